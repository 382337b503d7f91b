"""Fleets: watched users shared by many processes (arq workers) through Redis.

``FleetRegistry`` adds and removes users (from any process); each worker runs a
``FleetWatcher`` that claims due users with a lease (one worker polls a user at a time; a dead
worker's users come due again when its leases lapse) and delivers new grants to a Redis stream
and/or a callback. A grant goes to the stream in the same atomic step that moves the user's
cursor, and only if the cursor is still the one the poll started from: two workers can never
both deliver it, and a worker killed at any point loses none.

Credentials never sit in Redis: a user is registered with an auth reference (by default
``{"token_env": NAME}``), resolved by the worker (``resolve_auth``), like the arq integration.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from .._callbacks import call_maybe_async
from .._constants import WATCH_CONCURRENCY, WATCH_MAX_RPS
from .._logging import get_logger
from ..auth import Auth
from ..client import Client
from ..errors import APIError, ConfigurationError
from ..resources.levels import (
    Cursor,
    LevelMatcher,
    PollPolicy,
    advance,
    is_transient,
    plan_delivery,
)
from ._reading import read_new
from .bucket import TokenBucket
from .events import LevelGranted
from .registry import (
    CLAIM_SCRIPT,
    DEFAULT_PREFIX,
    DELIVER_SCRIPT,
    RELEASE_SCRIPT,
    AuthResolver,
    FleetRegistry,
    RedisKeys,
    default_resolve_auth,
    event_from_stream,
)
from .watcher import WATCH_POLICY

__all__ = [
    "DEFAULT_PREFIX",
    "FleetRegistry",
    "FleetWatcher",
    "default_resolve_auth",
    "event_from_stream",
]

_log = get_logger()
_DELIVERED, _REMOVED = 1, -2  # DELIVER_SCRIPT's outcomes (registry.py)


class FleetWatcher:
    """One worker's share of the fleet: claims due users, polls them, delivers their grants.

    ``stream`` (default True) adds each grant to the Redis stream ``prefix + "grants"``;
    ``on_grant`` (sync or async) is called first (at least once per grant: a worker killed
    between the callback and the stream write has it called again elsewhere). ``max_rps`` and
    ``concurrency`` bound this worker; ``lease_ttl`` is how long a dead worker's users wait.
    """

    def __init__(
        self,
        client: Client,
        redis: Any,
        *,
        prefix: str = DEFAULT_PREFIX,
        stream: bool = True,
        on_grant: Callable[[LevelGranted], Awaitable[None] | None] | None = None,
        resolve_auth: AuthResolver = default_resolve_auth,
        max_rps: float = WATCH_MAX_RPS,
        concurrency: int = WATCH_CONCURRENCY,
        poll: PollPolicy = WATCH_POLICY,
        lease_ttl: float = 30.0,
        tick: float = 0.2,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ) -> None:
        if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
            raise ConfigurationError("concurrency must be an int >= 1")
        if not (isinstance(lease_ttl, int | float) and lease_ttl > 0 and tick > 0):
            raise ConfigurationError("lease_ttl and tick must be positive")
        self._client = client
        self._redis = redis
        self._keys = RedisKeys(prefix)
        self._stream = stream
        self._on_grant = on_grant
        self._resolve_auth = resolve_auth
        self._bucket = TokenBucket(max_rps)
        self._concurrency = concurrency
        self._poll = poll
        self._lease_ms = int(lease_ttl * 1000)
        self._tick = tick
        self._clock = clock
        self._rng = rng or random.Random()
        self._claim = redis.register_script(CLAIM_SCRIPT)
        self._deliver = redis.register_script(DELIVER_SCRIPT)
        self._release = redis.register_script(RELEASE_SCRIPT)
        self.worker_id = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.requests = 0
        self.delivered = 0
        self.superseded = 0
        """Deliveries refused because another worker had moved the cursor or taken the lease."""

    async def run(self) -> None:
        """Claim and poll until cancelled (a cancelled worker's leases simply lapse)."""
        tasks: set[asyncio.Task[None]] = set()
        try:
            while True:
                free = self._concurrency - len(tasks)
                if free <= 0:
                    await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
                    continue
                claimed = await self._claim_due(free)
                for key, raw, polls, token in claimed:
                    task = asyncio.create_task(self._one(key, raw, polls, token))
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
                if not claimed:
                    await asyncio.sleep(self._tick)
        finally:
            for task in tasks:
                task.cancel()
            for task in list(tasks):
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def _claim_due(self, limit: int) -> list[tuple[str, str, int, str]]:
        token = f"{self.worker_id}:{uuid.uuid4().hex[:8]}"
        keys = self._keys
        try:
            flat = await self._claim(
                keys=[keys.due, keys.users, keys.polls],
                args=[self._clock(), limit, self._lease_ms, keys.lease(), token],
            )
        except Exception as exc:  # Redis down: wait and try again
            _log.warning("fleet_claim_failed", error=type(exc).__name__)
            return []
        out = []
        for i in range(0, len(flat), 3):
            key, raw, polls = (
                v.decode() if isinstance(v, bytes) else str(v) for v in flat[i : i + 3]
            )
            out.append((key, raw, int(polls or 0), token))
        return out

    async def _one(self, key: str, raw: str, polls: int, token: str) -> None:
        done = False
        try:
            if not raw:  # removed since it was claimed
                done = True
                return
            record = json.loads(raw)
            level = record.get("level")
            matcher = None if level is None else LevelMatcher(level.get("id", level.get("name")))
            since = datetime.fromisoformat(record["since"]) if record.get("since") else None
            auth = await call_maybe_async(self._resolve_auth, key, record["auth"])
            done = await self._poll_user(key, auth, matcher, since, token, raw)
        except APIError as exc:
            if not is_transient(exc):
                _log.warning("fleet_user_dropped", key=key, error=type(exc).__name__)
                done = True
        except Exception as exc:  # a bad record or a failing callback: try again later
            _log.warning("fleet_poll_failed", key=key, error=type(exc).__name__)
        finally:
            delay = self._poll.delay(polls + 1, self._rng)
            with contextlib.suppress(Exception):
                await self._release(
                    keys=[
                        self._keys.lease(key),
                        self._keys.due,
                        self._keys.users,
                        self._keys.polls,
                    ],
                    args=[
                        token,
                        self._clock() + delay,
                        "1" if done else "0",
                        key,
                        polls + 1,
                        raw,
                    ],
                )

    async def _poll_user(
        self,
        key: str,
        auth: Auth,
        matcher: LevelMatcher | None,
        since: datetime | None,
        token: str,
        registration: str,
    ) -> bool:
        stored = await self._redis.get(self._keys.cursor(key))
        expected = stored.decode() if isinstance(stored, bytes) else (stored or "")
        cursor = Cursor.from_dict(json.loads(expected)) if expected else None
        await self._bucket.acquire()
        entries, pages = await read_new(
            self._client.with_auth(auth), cursor, self._bucket.acquire, {"max_retries": 0}
        )
        self.requests += pages
        fresh, start, done = plan_delivery(entries, cursor, matcher, since)
        if done:
            return True
        if cursor is None and not fresh:
            await self._move(key, expected, start, token, None, registration)
            return False
        cursor = start
        for entry in fresh:
            awaited = matcher is not None and matcher.matches(entry.current_level)
            event = LevelGranted(key, entry, entry.previous_level, entry.current_level, awaited)
            if self._on_grant is not None:
                if await self._registration(key) != registration:
                    return False  # removed mid-poll: no callback (the stream is checked anew)
                await call_maybe_async(self._on_grant, event)
            moved = advance(cursor, entry)
            outcome = await self._move(key, expected, moved, token, event, registration)
            if outcome != _DELIVERED:
                if outcome != _REMOVED:
                    self.superseded += 1  # another worker took over: it delivers from here
                return False
            expected = json.dumps(moved.to_dict(), separators=(",", ":"))
            cursor = moved
            self.delivered += 1
            done = done or awaited
        return done

    async def _registration(self, key: str) -> str | None:
        raw = await self._redis.hget(self._keys.users, key)
        return raw.decode() if isinstance(raw, bytes) else raw

    async def _move(
        self,
        key: str,
        expected: str,
        cursor: Cursor,
        token: str,
        event: LevelGranted | None,
        registration: str,
    ) -> int:
        """``DELIVER_SCRIPT``: ``_DELIVERED``, ``_REMOVED``, or 0/-1 (taken over)."""
        payload = ""
        if event is not None:
            payload = json.dumps(
                {
                    "key": key,
                    "awaited": event.awaited,
                    "verification": event.verification.model_dump(mode="json", by_alias=True),
                }
            )
        keys = self._keys
        result = await self._deliver(
            keys=[keys.cursor(key), keys.stream, keys.lease(key), keys.users],
            args=[
                expected,
                json.dumps(cursor.to_dict(), separators=(",", ":")),
                token,
                "1" if event is not None and self._stream else "0",
                key,
                payload,
                self.worker_id,
                registration,
            ],
        )
        return int(result)
