"""Waiting for a condition another task or process makes true, with a bound on the wait."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable

import pytest


async def eventually(
    check: Callable[[], bool | Awaitable[bool]],
    what: str,
    limit: float = 10.0,
    interval: float = 0.02,
) -> None:
    """Return once ``check()`` (sync or async) is true; fail the test after ``limit`` seconds."""
    deadline = time.monotonic() + limit
    while True:
        outcome = check()
        if inspect.isawaitable(outcome):
            outcome = await outcome
        if outcome:
            return
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {limit} s waiting for {what}")
        await asyncio.sleep(interval)
