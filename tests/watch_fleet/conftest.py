"""Fixtures of the fleet tests: a real redis-server of our own on a free loopback port."""

from __future__ import annotations

import sys
from pathlib import Path

_HERE = str(Path(__file__).parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

from redis_fixtures import redis_client, redis_url  # noqa: E402, F401
