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
import inspect
import json
import os
import random
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .._constants import WATCH_CONCURRENCY, WATCH_MAX_RPS
from .._levels import (
    Cursor,
    LevelMatcher,
    LevelRef,
    PollPolicy,
    advance,
    is_transient,
    plan_delivery,
)
from .._logging import get_logger
from ..auth import Auth, BearerToken
from ..client import Client
from ..errors import APIError, ConfigurationError, CursorStoreError
from ..models import Level, Verification
from .bucket import TokenBucket
from .events import LevelGranted
from .watcher import WATCH_POLICY, read_new

__all__ = [
    "DEFAULT_PREFIX",
    "FleetRegistry",
    "FleetWatcher",
    "default_resolve_auth",
    "event_from_stream",
]

DEFAULT_PREFIX = "kycflow:watch:"
AuthResolver = Callable[[str, Mapping[str, Any]], Auth | Awaitable[Auth]]
_log = get_logger()

# Claim up to ARGV[2] users due by ARGV[1]: each gets a lease (ARGV[4] .. key = ARGV[5], for
# ARGV[3] ms) and is pushed back by the lease's length, so it comes due again if we die.
_CLAIM = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
local out = {}
for _, key in ipairs(due) do
  if redis.call('SET', ARGV[4] .. key, ARGV[5], 'NX', 'PX', ARGV[3]) then
    redis.call('ZADD', KEYS[1], tonumber(ARGV[1]) + tonumber(ARGV[3]) / 1000, key)
    table.insert(out, key)
    table.insert(out, redis.call('HGET', KEYS[2], key) or '')
    table.insert(out, redis.call('HGET', KEYS[3], key) or '0')
  end
end
return out
"""
# Deliver: while we hold the lease and the cursor is the expected one, add the event to the
# stream (if any) and move the cursor. 1 done, 0 cursor moved by someone else, -1 lease lost.
_DELIVER = """
if redis.call('GET', KEYS[3]) ~= ARGV[3] then return -1 end
local current = redis.call('GET', KEYS[1]) or ''
if current ~= ARGV[1] then return 0 end
if ARGV[4] == '1' then
  redis.call('XADD', KEYS[2], '*', 'key', ARGV[5], 'event', ARGV[6], 'worker', ARGV[7])
end
redis.call('SET', KEYS[1], ARGV[2])
return 1
"""
# Release the lease: reschedule the user at ARGV[2] (or drop it when ARGV[3] is '1').
_RELEASE = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
if ARGV[3] == '1' then
  redis.call('HDEL', KEYS[3], ARGV[4])
  redis.call('ZREM', KEYS[2], ARGV[4])
  redis.call('HDEL', KEYS[4], ARGV[4])
elseif redis.call('HEXISTS', KEYS[3], ARGV[4]) == 1 then
  redis.call('ZADD', KEYS[2], ARGV[2], ARGV[4])
  redis.call('HSET', KEYS[4], ARGV[4], ARGV[5])
end
return 1
"""


@dataclass(frozen=True, slots=True)
class _Keys:
    prefix: str

    @property
    def users(self) -> str:
        return self.prefix + "users"

    @property
    def due(self) -> str:
        return self.prefix + "due"

    @property
    def polls(self) -> str:
        return self.prefix + "polls"

    @property
    def stream(self) -> str:
        return self.prefix + "grants"

    def lease(self, key: str = "") -> str:
        return self.prefix + "lease:" + key

    def cursor(self, key: str) -> str:
        return self.prefix + "cursor:" + key  # RedisCursorStore's default layout


def _level_json(level: LevelRef | None) -> Any:
    if level is None:
        return None
    LevelMatcher(level)  # refuses a bad level now, not in a worker
    if isinstance(level, Level):
        return {"id": level.id}
    return {"id": level} if isinstance(level, int) else {"name": level}


class FleetRegistry:
    """The fleet's watched users in Redis (``redis``: a ``redis.asyncio.Redis``)."""

    def __init__(
        self, redis: Any, *, prefix: str = DEFAULT_PREFIX, clock: Callable[[], float] = time.time
    ) -> None:
        self.redis = redis
        self.keys = _Keys(prefix)
        self._clock = clock

    async def add(
        self,
        key: str,
        auth_ref: Mapping[str, Any],
        *,
        level: LevelRef | None = None,
        since: datetime | None = None,
    ) -> None:
        """Watch ``key``: ``auth_ref`` names its credentials (never a raw ``token``);
        ``level`` and ``since`` as in ``LevelWatcher.add``. Polled soon by some worker."""
        if not isinstance(key, str) or not key:
            raise ConfigurationError("key must be a non-empty string")
        if not isinstance(auth_ref, Mapping) or "token" in auth_ref:
            raise ConfigurationError(
                "auth_ref names credentials (e.g. {'token_env': 'NAME'}); a raw token is refused"
            )
        if since is not None and since.tzinfo is None:
            raise ConfigurationError("since must be timezone-aware")
        record = {
            "auth": dict(auth_ref),
            "level": _level_json(level),
            "since": None if since is None else since.isoformat(),
        }
        try:
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.hset(self.keys.users, key, json.dumps(record))
                pipe.hdel(self.keys.polls, key)
                pipe.zadd(self.keys.due, {key: self._clock()})
                await pipe.execute()
        except Exception as exc:
            raise CursorStoreError(f"fleet registry: add failed ({type(exc).__name__})") from None

    async def remove(self, key: str) -> bool:
        """Stop watching ``key`` (its cursor stays); False if it was not watched."""
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hdel(self.keys.users, key)
            pipe.zrem(self.keys.due, key)
            removed, _ = await pipe.execute()
        return bool(removed)

    async def count(self) -> int:
        """How many users are watched."""
        return int(await self.redis.hlen(self.keys.users))


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def default_resolve_auth(key: str, ref: Mapping[str, Any]) -> Auth:
    """``{"token_env": NAME}``: a bearer token from the worker's environment."""
    name = ref.get("token_env")
    token = os.environ.get(name) if isinstance(name, str) else None
    if not token:
        raise ConfigurationError(f"no token for {key!r}: set token_env to a variable that is set")
    return BearerToken(token)


def event_from_stream(fields: Mapping[Any, Any]) -> LevelGranted:
    """A ``LevelGranted`` from one entry of the fleet's stream (``XREAD``/``XRANGE`` fields)."""
    raw = {(k.decode() if isinstance(k, bytes) else k): v for k, v in fields.items()}
    data = json.loads(raw["event"])
    entry = Verification.model_validate(data["verification"])
    return LevelGranted(
        data["key"], entry, entry.previous_level, entry.current_level, bool(data["awaited"])
    )


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
        self._keys = _Keys(prefix)
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
        self._claim = redis.register_script(_CLAIM)
        self._deliver = redis.register_script(_DELIVER)
        self._release = redis.register_script(_RELEASE)
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
            auth = self._resolve_auth(key, record["auth"])
            if inspect.isawaitable(auth):
                auth = await auth
            done = await self._poll_user(key, auth, matcher, since, token)
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
                    args=[token, self._clock() + delay, "1" if done else "0", key, polls + 1],
                )

    async def _poll_user(
        self,
        key: str,
        auth: Auth,
        matcher: LevelMatcher | None,
        since: datetime | None,
        token: str,
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
            await self._move(key, expected, start, token, None)
            return False
        cursor = start
        for entry in fresh:
            awaited = matcher is not None and matcher.matches(entry.current_level)
            event = LevelGranted(key, entry, entry.previous_level, entry.current_level, awaited)
            if self._on_grant is not None:
                result = self._on_grant(event)
                if inspect.isawaitable(result):
                    await result
            moved = advance(cursor, entry)
            if not await self._move(key, expected, moved, token, event):
                self.superseded += 1
                return False  # another worker took over: it delivers from here
            expected = json.dumps(moved.to_dict(), separators=(",", ":"))
            cursor = moved
            self.delivered += 1
            done = done or awaited
        return done

    async def _move(
        self, key: str, expected: str, cursor: Cursor, token: str, event: LevelGranted | None
    ) -> bool:
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
            keys=[keys.cursor(key), keys.stream, keys.lease(key)],
            args=[
                expected,
                json.dumps(cursor.to_dict(), separators=(",", ":")),
                token,
                "1" if event is not None and self._stream else "0",
                key,
                payload,
                self.worker_id,
            ],
        )
        return int(result) == 1
