"""The settings the fleet test's arq worker processes run: ``arq fleet_worker.WorkerSettings``.

Settings come from the environment the test sets. Tokens are resolved from a JSON file the
test writes (key -> token): credentials never sit in Redis.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from functools import cache
from typing import Any

import kycflow
from kycflow.integrations.arq_watch import make_watch_worker_settings
from kycflow.watch import PollPolicy


@cache
def _tokens() -> dict[str, str]:
    with open(os.environ["KYCFLOW_TEST_TOKENS"], encoding="utf-8") as handle:
        data: dict[str, str] = json.load(handle)
    return data


def resolve_auth(key: str, ref: Mapping[str, Any]) -> kycflow.Auth:
    return kycflow.BearerToken(_tokens()[ref["user"]])


WorkerSettings = make_watch_worker_settings(
    base_url=os.environ["KYCFLOW_TEST_BASE_URL"],
    redis=os.environ["KYCFLOW_TEST_REDIS_URL"],
    resolve_auth=resolve_auth,
    max_rps=200,
    concurrency=8,
    poll=PollPolicy(initial=0.1, factor=1.5, maximum=0.4, jitter=0.2),
    lease_ttl=1.0,
    tick=0.05,
    poll_delay=0.2,
)
