"""``Verifications.wait_for_level``: poll one user's history until a level is granted."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

from .._constants import LEVEL_HISTORY_PAGE, LEVEL_HISTORY_SCAN_PAGES
from ..errors import APIError, LevelTimeoutError
from ..models import Level, Verification, VerificationPage
from .levels import (
    LevelMatcher,
    LevelRef,
    PollPolicy,
    check_positive,
    is_newest_first,
    is_transient,
    levels_in,
    newest_entry,
)

__all__ = ["PageReader", "WaitProgress", "wait_for_level"]

PageReader = Callable[[int, int, float], Awaitable[VerificationPage]]
"""Reads ``(limit, offset, deadline_seconds)`` of the history, newest first."""


@dataclass(frozen=True, slots=True)
class WaitProgress:
    """What ``wait_for_level`` reports after each poll (``on_poll``)."""

    polls: int
    elapsed: float
    next_delay: float | None
    """Seconds until the next poll (None: the timeout is reached)."""
    current_level: Level | None
    error: APIError | None
    """The transient error of this poll, if it failed."""


async def _read_history(read_page: PageReader, first: bool, remaining: float) -> list[Verification]:
    # The first read scans back for a grant made before the wait began ("one already
    # there"); later reads need only the newest page, where a new grant appears (unless the
    # server ignored the sort order: then the newest are further on).
    entries: list[Verification] = []
    offset = 0
    for _ in range(LEVEL_HISTORY_SCAN_PAGES):
        page = await read_page(LEVEL_HISTORY_PAGE, offset, remaining)
        entries.extend(page.data)
        offset += len(page.data)
        if not page.data or offset >= page.total:
            break
        if not first and is_newest_first(page.data):
            break
    return entries


async def wait_for_level(
    read_page: PageReader,
    level: LevelRef,
    *,
    timeout: float,  # noqa: ASYNC109 - the whole wait's budget, not one call's
    poll: PollPolicy | None = None,
    known_levels: Iterable[str | Level] | None = None,
    on_poll: Callable[[WaitProgress], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    rng: random.Random | None = None,
) -> Verification:
    """Poll until an entry grants ``level``; see ``Verifications.wait_for_level``."""
    limit = check_positive("timeout", timeout)
    assert limit is not None
    matcher = LevelMatcher(level, known_levels)
    policy = poll or PollPolicy()
    rng = rng or random.Random()
    start = clock()
    deadline = start + limit
    polls = empty = 0
    seen: dict[str, None] = {}
    newest: Verification | None = None
    last_error: APIError | None = None
    while True:
        error: APIError | None = None
        try:
            entries = await _read_history(read_page, polls == 0, max(deadline - clock(), 0.1))
        except APIError as exc:
            if not is_transient(exc):
                raise
            error = last_error = exc
        else:
            last_error = None
            seen.update(dict.fromkeys(levels_in(entries)))
            newest = newest_entry(entries) or newest
            found = matcher.newest(entries)
            if found is not None:
                return found
        polls += 1
        remaining = deadline - clock()
        delay = None if remaining <= 0 else min(policy.delay(empty, rng), remaining)
        empty += 1
        if on_poll is not None:
            current = newest.current_level if newest is not None else None
            on_poll(WaitProgress(polls, clock() - start, delay, current, error))
        if delay is None:
            raise _timeout(matcher, limit, newest, list(seen), polls, last_error)
        await sleep(delay)


def _timeout(
    matcher: LevelMatcher,
    limit: float,
    newest: Verification | None,
    seen: list[str],
    polls: int,
    last_error: APIError | None,
) -> LevelTimeoutError:
    current = newest.current_level if newest is not None else None
    where = f"; current level {current.name!r}" if current is not None else ""
    failing = f"; last poll failed: {type(last_error).__name__}" if last_error else ""
    return LevelTimeoutError(
        f"level {matcher.label!r} not granted within {limit:g} s ({polls} polls{where}; "
        f"levels seen: {', '.join(seen) or 'none'}{failing})",
        level=matcher.label,
        timeout=limit,
        last_seen=newest,
        levels_seen=seen,
        polls=polls,
        last_error=last_error,
    )
