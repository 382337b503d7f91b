"""Leases in Redis: a lock with expiry and a fencing token, renewed while the run lives.

Holding key K means the Redis key ``<prefix>K`` holds ``"<token>:<owner>"`` with a TTL;
``<prefix>K:fence`` counts grants (``INCR``), so every holder gets a larger token than the one
before. A background task renews the TTL every third of it; a lease that cannot be renewed
before it would expire is marked lost. Saves of a leased key go through ``FENCED_SET``, which
writes only while the lease is still this run's: a run that lost its lease (a paused process,
a partition) cannot overwrite the checkpoint of the run that took over, nor reach a submit.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import Any

from .._logging import get_logger
from ..errors import CheckpointError
from ..wizard.leases import Lease, OnBusy, busy_error, check_on_busy

__all__ = ["FENCED_SET", "RedisLeases"]

_log = get_logger()

# KEYS[1] lease; ARGV[1] value, ARGV[2] ttl ms.
_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""
# KEYS[1] lease, KEYS[2] checkpoint; ARGV[1] lease value, ARGV[2] data, ARGV[3] ttl ms or 0.
FENCED_SET = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return 0
end
if tonumber(ARGV[3]) > 0 then
  redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
else
  redis.call('SET', KEYS[2], ARGV[2])
end
return 1
"""
_POLL_MIN = 0.05
_POLL_MAX = 1.0


def lease_value(lease: Lease) -> str:
    """What the lease key holds while ``lease`` is held."""
    return f"{lease.token}:{lease.owner}"


class RedisLeases:
    """Leases on ``prefix + key`` in ``redis`` (a ``redis.asyncio.Redis``), ``ttl`` seconds
    each, renewed every ``ttl / 3`` while held."""

    def __init__(
        self,
        redis: Any,
        *,
        prefix: str,
        ttl: float,
        on_busy: OnBusy = "fail",
        wait: float | None = None,
        holder: object = None,
    ) -> None:
        check_on_busy(on_busy, wait)
        if not ttl > 0:
            raise ValueError("lease ttl must be positive")
        self.redis = redis
        self.prefix = prefix
        self.ttl = ttl
        self.on_busy: OnBusy = on_busy
        self.wait = wait
        self._holder = holder if holder is not None else self
        self._ttl_ms = max(1, int(ttl * 1000))

    def redis_key(self, key: str) -> str:
        """The Redis key of ``key``'s lease."""
        return self.prefix + key

    @asynccontextmanager
    async def lease(self, key: str, owner: str) -> AsyncIterator[Lease]:
        """Hold ``key`` for the block; ``RunInProgressError`` when another run holds it."""
        lease = await self._acquire(key, owner)
        renewer = asyncio.create_task(self._renew(lease), name=f"kycflow-lease:{key}")
        try:
            yield lease
        finally:
            renewer.cancel()
            with suppress(asyncio.CancelledError):
                await renewer
            try:
                await self.redis.eval(_RELEASE, 1, self.redis_key(key), lease_value(lease))
            except Exception as exc:  # it expires on its own within ttl
                _log.warning("lease.release_failed", key=key, error=type(exc).__name__)

    async def _acquire(self, key: str, owner: str) -> Lease:
        started = time.monotonic()
        delay = _POLL_MIN
        name = self.redis_key(key)
        while True:
            try:
                if not await self.redis.exists(name):
                    token = int(await self.redis.incr(name + ":fence"))
                    lease = Lease(key, token, owner, self._holder)
                    if await self.redis.set(name, lease_value(lease), nx=True, px=self._ttl_ms):
                        return lease
            except Exception as exc:
                raise CheckpointError(
                    f"cannot take the lease on {key!r}: {type(exc).__name__}", key=key
                ) from exc
            waited = time.monotonic() - started
            if self.on_busy == "fail":
                raise busy_error(key, None)
            if self.wait is not None and waited + delay > self.wait:
                raise busy_error(key, waited)
            await asyncio.sleep(delay * random.uniform(0.5, 1.0))
            delay = min(delay * 2, _POLL_MAX)

    async def _renew(self, lease: Lease) -> None:
        """Push the expiry back every ttl/3; mark the lease lost if that fails for a ttl."""
        name = self.redis_key(lease.key)
        value = lease_value(lease)
        renewed_at = time.monotonic()
        while True:
            await asyncio.sleep(self.ttl / 3)
            try:
                ok = await self.redis.eval(_RENEW, 1, name, value, self._ttl_ms)
            except Exception as exc:
                _log.warning("lease.renew_failed", key=lease.key, error=type(exc).__name__)
                if time.monotonic() - renewed_at < self.ttl:
                    continue
                ok = 0
            if not ok:
                lease.lost = True
                _log.warning("lease.lost", key=lease.key, token=lease.token)
                return
            renewed_at = time.monotonic()
