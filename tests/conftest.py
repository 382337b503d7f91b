"""Fixtures for the whole suite; puts ``tests/`` on the path for the shared helper modules
(``fakeserver``, ``redis_fixtures``), as the suite runs in importlib mode."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)


@pytest.fixture(autouse=True)
def _restore_structlog() -> Iterator[None]:
    # Some tests configure structlog globally (the CLI does, by design). Restoring "configured
    # with the defaults" is not the same as "never configured": kycflow's logger sends events to
    # stdlib logging only in the latter state, so put back exactly what was there.
    was_configured = structlog.is_configured()
    saved = structlog.get_config()
    yield
    if was_configured:
        structlog.configure(**saved)
    else:
        structlog.reset_defaults()
