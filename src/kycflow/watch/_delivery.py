"""Delivering a watched user's grants: to ``on_grant`` and/or the ``events()`` queue, each
grant's cursor saved once it was delivered (the callback returned, or the iterator took it)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from .. import _telemetry as telemetry
from .._callbacks import call_maybe_async
from .._constants import WATCH_QUEUE_SIZE
from ..auth import Auth
from ..errors import ConfigurationError, KycflowError
from ..models import Verification
from ..resources.levels import Cursor, LevelMatcher, advance, plan_delivery
from .events import LevelGranted
from .store import CursorStore

__all__ = ["Delivery", "ErrorCallback", "GrantCallback", "Watched"]

GrantCallback = Callable[[LevelGranted], Awaitable[None] | None]
ErrorCallback = Callable[[str, KycflowError], Awaitable[None] | None]


@dataclass(slots=True, eq=False)
class Watched:
    """One watched user: its auth, awaited level, cursor and schedule state."""

    key: str
    auth: Auth
    matcher: LevelMatcher | None
    since: datetime | None
    cursor: Cursor | None = None
    empty: int = 0
    generation: int = 0
    busy: bool = False
    again: bool = False
    removed: bool = False
    """Set by ``remove``: this user's in-flight poll delivers nothing more and saves no cursor."""


_Queued = tuple[LevelGranted, Watched, asyncio.Future[bool]]


class Delivery:
    """Where a watcher's grants go: ``on_grant`` and/or a queue read by ``events()``."""

    def __init__(self, store: CursorStore, on_grant: GrantCallback | None, use_queue: bool) -> None:
        self._store = store
        self._on_grant = on_grant
        self._queue: asyncio.Queue[_Queued | None] | None = (
            asyncio.Queue(WATCH_QUEUE_SIZE) if use_queue else None
        )

    async def events(self) -> AsyncIterator[LevelGranted]:
        """The grants, as they are found; ends once ``close`` was called."""
        if self._queue is None:
            raise ConfigurationError("events() needs queue_events=True (or no on_grant)")
        while True:
            item = await self._queue.get()
            if item is None:
                self._queue.put_nowait(None)  # let any other iterator end too
                return
            event, user, taken = item
            if taken.done():
                continue
            taken.set_result(not user.removed)
            if not user.removed:  # removed while queued: not handed over, its cursor not saved
                yield event

    def close(self) -> None:
        """End the ``events()`` iterators (events not yet taken are dropped)."""
        if self._queue is not None:
            with contextlib.suppress(asyncio.QueueFull):
                self._queue.put_nowait(None)

    async def deliver_new(self, user: Watched, entries: list[Verification]) -> bool:
        """Deliver the entries after the user's cursor; True once the awaited level came."""
        matcher = user.matcher
        fresh, cursor, done = plan_delivery(entries, user.cursor, matcher, user.since)
        if done or user.removed:
            return done  # granted and delivered before (an earlier run of this key), or removed
        if user.cursor is None:
            user.cursor = cursor
            if not fresh:
                await self._store.save(user.key, cursor)
        done = False
        for entry in fresh:
            awaited = matcher is not None and matcher.matches(entry.current_level)
            event = LevelGranted(
                user.key, entry, entry.previous_level, entry.current_level, awaited
            )
            if user.removed or not await self.deliver(user, event):
                return done  # removed (by the callback too): no event and no cursor after that
            level = entry.current_level
            telemetry.record_grant(level.name or level.id if level is not None else None)
            cursor = advance(cursor, entry)
            user.cursor = cursor
            await self._store.save(user.key, cursor)
            done = done or awaited
        return done

    async def deliver(self, user: Watched, event: LevelGranted) -> bool:
        """Hand ``event`` over; False if ``user`` was removed before anyone took it."""
        delivered = False
        if self._on_grant is not None:
            await call_maybe_async(self._on_grant, event)
            delivered = True
        if self._queue is not None and not user.removed:
            taken: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
            await self._queue.put((event, user, taken))
            delivered = await taken or delivered
        return delivered
