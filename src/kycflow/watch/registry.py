"""The fleet's shared state in Redis: the registry of watched users, the key layout, the Lua
scripts a ``FleetWatcher`` runs, and reading the grants stream. See ``fleet.py``."""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..auth import Auth, BearerToken
from ..errors import ConfigurationError, CursorStoreError
from ..models import Level, Verification
from ..resources.levels import LevelMatcher, LevelRef
from .events import LevelGranted

__all__ = [
    "DEFAULT_PREFIX",
    "AuthResolver",
    "FleetRegistry",
    "default_resolve_auth",
    "event_from_stream",
]

DEFAULT_PREFIX = "kycflow:watch:"
AuthResolver = Callable[[str, Mapping[str, Any]], Auth | Awaitable[Auth]]

# Claim up to ARGV[2] users due by ARGV[1]: each gets a lease (ARGV[4] .. key = ARGV[5], for
# ARGV[3] ms) and is pushed back by the lease's length, so it comes due again if we die.
CLAIM_SCRIPT = """
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
# Deliver: while we hold the lease, the user's registration is still the one the poll claimed
# (ARGV[8], its record: each ``add`` writes a new one) and the cursor is the expected one, add
# the event to the stream (if any) and move the cursor. 1 done, 0 cursor moved by someone else,
# -1 lease lost, -2 removed or registered anew since the claim (nothing more from this poll).
DELIVER_SCRIPT = """
if redis.call('GET', KEYS[3]) ~= ARGV[3] then return -1 end
if redis.call('HGET', KEYS[4], ARGV[5]) ~= ARGV[8] then return -2 end
local current = redis.call('GET', KEYS[1]) or ''
if current ~= ARGV[1] then return 0 end
if ARGV[4] == '1' then
  redis.call('XADD', KEYS[2], '*', 'key', ARGV[5], 'event', ARGV[6], 'worker', ARGV[7])
end
redis.call('SET', KEYS[1], ARGV[2])
return 1
"""
# Release the lease: reschedule the user at ARGV[2] (or drop it when ARGV[3] is '1'), only if
# its registration is still the one the poll claimed (ARGV[6]): a user removed, or removed and
# added again, while it was polled keeps what ``remove``/``add`` left.
RELEASE_SCRIPT = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
if redis.call('HGET', KEYS[3], ARGV[4]) ~= ARGV[6] then return 1 end
if ARGV[3] == '1' then
  redis.call('HDEL', KEYS[3], ARGV[4])
  redis.call('ZREM', KEYS[2], ARGV[4])
  redis.call('HDEL', KEYS[4], ARGV[4])
else
  redis.call('ZADD', KEYS[2], ARGV[2], ARGV[4])
  redis.call('HSET', KEYS[4], ARGV[4], ARGV[5])
end
return 1
"""


@dataclass(frozen=True, slots=True)
class RedisKeys:
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
        self.keys = RedisKeys(prefix)
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
            # Each registration its own record: a poll claimed under an earlier one delivers
            # nothing into this one, and its release leaves this one alone.
            "registration": uuid.uuid4().hex,
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
        """Stop watching ``key`` (its cursor stays); False if it was not watched. Once this
        returned, a poll of ``key`` in flight adds nothing to the stream and moves no cursor."""
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hdel(self.keys.users, key)
            pipe.zrem(self.keys.due, key)
            pipe.hdel(self.keys.polls, key)
            removed, _, _ = await pipe.execute()
        return bool(removed)

    async def count(self) -> int:
        """How many users are watched."""
        return int(await self.redis.hlen(self.keys.users))


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
