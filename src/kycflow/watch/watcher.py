"""``LevelWatcher``: learn when levels are granted, for one user or a hundred thousand. One
scheduler task keeps every watched user in a heap by the time of its next poll; due users
are polled over the client's one connection pool, at most ``concurrency`` at a time and at most
``max_rps`` requests a second in all (a token bucket). Each user's polls start often (right
after ``add`` or ``touch``: a wizard just ended) and back off toward ``poll.maximum``.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from datetime import datetime
from typing import Any, Self

from .. import _telemetry as telemetry
from .._callbacks import call_maybe_async
from .._constants import (
    WATCH_CONCURRENCY,
    WATCH_MAX_RPS,
    WATCH_POLL_FACTOR,
    WATCH_POLL_INITIAL,
    WATCH_POLL_MAX,
)
from .._logging import get_logger
from ..auth import Auth
from ..client import Client
from ..errors import APIError, ConfigurationError, CursorStoreError, KycflowError
from ..models import Level, Verification
from ..resources.levels import LevelMatcher, LevelRef, PollPolicy, is_transient
from ._delivery import Delivery, ErrorCallback, GrantCallback, Watched
from ._reading import Done, read_new
from .bucket import TokenBucket
from .events import LevelGranted
from .store import CursorStore, MemoryCursorStore

__all__ = ["WATCH_POLICY", "LevelWatcher"]

WATCH_POLICY = PollPolicy(WATCH_POLL_INITIAL, WATCH_POLL_FACTOR, WATCH_POLL_MAX, 0.2)
"""The watcher's default schedule: 5 s after a wizard ends, x1.5 per empty poll, up to an hour."""

_log = get_logger()


class LevelWatcher:
    """Watch many users' verification histories; deliver each new grant once per key.

    ``add(key, auth, level=...)`` watches a user (``level``: stop once it is granted);
    events arrive through ``on_grant`` (sync or async) and/or ``async for event in
    watcher.events()`` (on by default when there is no callback). A grant's cursor is saved in
    ``store`` after the event was delivered (the callback returned, or the iterator took it), so a
    watcher restarted on the same store does not deliver it again. Use ``async with``.
    """

    def __init__(
        self,
        client: Client,
        *,
        store: CursorStore | None = None,
        max_rps: float = WATCH_MAX_RPS,
        concurrency: int = WATCH_CONCURRENCY,
        poll: PollPolicy = WATCH_POLICY,
        on_grant: GrantCallback | None = None,
        on_error: ErrorCallback | None = None,
        queue_events: bool | None = None,
        known_levels: Iterable[str | Level] | None = None,
        request_timeout: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: random.Random | None = None,
    ) -> None:
        if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
            raise ConfigurationError("concurrency must be an int >= 1")
        if store is not None and not isinstance(store, CursorStore):
            raise ConfigurationError("store must implement kycflow.watch.CursorStore")
        self._client = client
        self._store: CursorStore = store if store is not None else MemoryCursorStore()
        self._bucket = TokenBucket(max_rps, clock=clock, sleep=sleep)
        self._slots = asyncio.Semaphore(concurrency)
        self._poll = poll
        self._on_error = on_error
        use_queue = on_grant is None if queue_events is None else queue_events
        self._delivery = Delivery(self._store, on_grant, use_queue)
        self._known = list(known_levels) if known_levels is not None else None
        self._request_options: dict[str, Any] = {"deadline": request_timeout, "max_retries": 0}
        self._clock = clock
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._users: dict[str, Watched] = {}
        self._heap: list[tuple[float, int, str, int]] = []
        self._seq = 0
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._dispatcher: asyncio.Task[None] | None = None
        self._closed = False
        self.requests = 0
        """History reads sent so far (each is one API request)."""

    # ---- registration --------------------------------------------------------------------

    def add(
        self,
        key: str,
        auth: Auth,
        *,
        level: LevelRef | None = None,
        since: datetime | None = None,
    ) -> Done:
        """Watch the user holding ``auth`` under ``key`` (re-adding replaces auth and level and
        polls soon again). ``level``: stop watching once it is granted (an entry already there
        is delivered once). ``since``: on a key without a cursor, entries from then on are new
        (default: only those after the first poll, or the awaited level's).

        Takes effect at once; the result may be awaited (``await watcher.add(...)``) by code
        that treats registration as asynchronous."""
        if not isinstance(key, str) or not key:
            raise ConfigurationError("key must be a non-empty string")
        if not isinstance(auth, Auth):
            raise ConfigurationError("auth must implement kycflow.Auth (e.g. BearerToken)")
        if since is not None and since.tzinfo is None:
            raise ConfigurationError("since must be timezone-aware")
        matcher = None if level is None else LevelMatcher(level, self._known)
        user = self._users.get(key)
        if user is None:
            user = self._users[key] = Watched(key, auth, matcher, since)
        else:
            user.auth, user.matcher, user.since = auth, matcher, since
        self._idle.clear()
        return self.touch(key)

    def touch(self, key: str) -> Done:
        """Poll ``key`` soon and often again (its wizard just ended); KeyError if unknown."""
        user = self._users[key]
        user.empty = 0
        self._schedule(user, 0.0)
        return Done(None)

    def remove(self, key: str) -> Done:
        """Stop watching ``key``: nothing more is delivered for it, not even by a poll in flight
        (its cursor stays in the store). Truthy (awaits to True) if it was watched."""
        user = self._users.pop(key, None)
        if user is None:
            return Done(False)
        user.removed, user.generation = True, user.generation + 1  # its heap entry is stale
        if not self._users:
            self._idle.set()
        return Done(True)

    def __contains__(self, key: object) -> bool:
        return key in self._users

    def __len__(self) -> int:
        return len(self._users)

    def _schedule(self, user: Watched, delay: float) -> None:
        user.generation += 1
        self._seq += 1
        heapq.heappush(self._heap, (self._clock() + delay, self._seq, user.key, user.generation))
        self._wake.set()

    # ---- lifecycle -----------------------------------------------------------------------

    async def start(self) -> None:
        """Check the store (``CursorStoreError`` if unreachable) and start polling."""
        if self._closed:
            raise ConfigurationError("this watcher was closed")
        if self._dispatcher is None:
            await self._store.ping()
            self._dispatcher = asyncio.create_task(self._dispatch())

    async def aclose(self) -> None:
        """Stop polling; pending events not yet taken are not delivered (nor their cursors
        saved), so a restarted watcher delivers them."""
        self._closed = True
        tasks = [t for t in (self._dispatcher, *self._tasks) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._dispatcher = None
        self._delivery.close()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def join(self) -> None:
        """Wait until no user is watched (each awaited level granted, or removed)."""
        await self._idle.wait()

    def __aiter__(self) -> AsyncIterator[LevelGranted]:
        return self.events()

    async def events(self) -> AsyncIterator[LevelGranted]:
        """The grants, as they are found; ends when the watcher is closed."""
        async for event in self._delivery.events():
            yield event

    # ---- scheduling ----------------------------------------------------------------------

    async def _nap(self, delay: float) -> None:
        self._wake.clear()
        waker = asyncio.ensure_future(self._wake.wait())
        sleeper = asyncio.ensure_future(self._sleep(delay))
        try:
            await asyncio.wait((waker, sleeper), return_when=asyncio.FIRST_COMPLETED)
        finally:
            waker.cancel()
            sleeper.cancel()

    async def _dispatch(self) -> None:
        heap = self._heap
        while True:
            if not heap:
                self._wake.clear()
                await self._wake.wait()
                continue
            due, _, key, generation = heap[0]
            delay = due - self._clock()
            if delay > 0:
                await self._nap(delay)
                continue
            heapq.heappop(heap)
            user = self._users.get(key)
            if user is None or user.generation != generation:
                continue
            if user.busy:  # one poll per user at a time: this one follows the running one
                user.again = True
                continue
            await self._slots.acquire()
            await self._bucket.acquire()
            if self._users.get(key) is not user or user.busy:
                self._slots.release()  # removed, or polled, while waiting for a token
                continue
            user.busy = True
            task = asyncio.create_task(self._run(user))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _run(self, user: Watched) -> None:
        try:
            try:
                entries = await self._read(user)
            finally:
                self._slots.release()  # delivery may wait on a consumer: it holds no slot
            telemetry.record_poll("ok")
            done = await self._delivery.deliver_new(user, entries)
        except (APIError, CursorStoreError) as exc:
            user.busy = False
            telemetry.record_poll("failed")
            await self._failed(user, exc)
            return
        except Exception as exc:  # a callback's bug must not stop the other users' watch
            _log.error("watch_delivery_failed", key=user.key, error=type(exc).__name__)
            done = False
        user.busy = False
        if self._users.get(user.key) is not user:
            return
        if done:
            self.remove(user.key)
        elif user.again:
            user.again = False
            self._schedule(user, 0.0)
        else:
            user.empty += 1
            self._schedule(user, self._poll.delay(user.empty, self._rng))

    async def _read(self, user: Watched) -> list[Verification]:
        if user.cursor is None:
            user.cursor = await self._store.load(user.key)
        view = self._client.with_auth(user.auth)
        entries, pages = await read_new(
            view, user.cursor, self._bucket.acquire, self._request_options
        )
        self.requests += pages
        return entries

    async def _failed(self, user: Watched, exc: KycflowError) -> None:
        reported = not user.removed  # a key removed mid-poll hears nothing more of it
        transient = isinstance(exc, CursorStoreError) or is_transient(exc)
        _log.warning(
            "watch_poll_failed", key=user.key, error=type(exc).__name__, transient=transient
        )
        if self._users.get(user.key) is user:
            if transient:
                user.empty += 1
                self._schedule(user, self._poll.delay(user.empty, self._rng))
            else:  # a refused token or a missing resource will not mend by waiting
                self.remove(user.key)
        if self._on_error is not None and reported:
            await call_maybe_async(self._on_error, user.key, exc)
