"""A fleet-wide rate/pause coordinator in Redis (``pip install kycflow[arq]``).

``RedisCoordinator`` is a ``kycflow.coordination.RequestCoordinator`` that N worker processes
share through one Redis, so that together they respect the vendor's limits:

- the pause: a ``Retry-After`` one worker receives sets ``<prefix>pause:<host>`` to expire when
  the pause ends (a small Lua script: a pause is extended, never shortened); every worker reads
  its remaining TTL before each request and waits it out;
- the rate: at most ``rate`` requests (a ``limits`` string such as ``"20/second"``) to a host
  across the fleet, counted by the ``limits`` library's moving window on its async Redis
  storage (exact, atomic in Redis; a well-kept library rather than our own Lua).

Redis trouble never stops the requests: the coordinator logs it and lets the request go (the
vendor's limits are then enforced by its own 429s and each client's local retry budget).
"""

from __future__ import annotations

import asyncio
import importlib
import random
import time
from typing import Any

from .._logging import get_logger
from ..errors import ConfigurationError

__all__ = ["DEFAULT_FLOW_PREFIX", "RedisCoordinator"]

DEFAULT_FLOW_PREFIX = "kycflow:flow:"
_log = get_logger()

# KEYS[1] the pause key; ARGV[1] the pause in ms. Extends, never shortens.
_PAUSE = """
local left = redis.call('PTTL', KEYS[1])
if left < tonumber(ARGV[1]) then
  redis.call('SET', KEYS[1], '1', 'PX', ARGV[1])
end
return 0
"""
_MIN_RATE_WAIT = 0.005


def _limits() -> tuple[Any, Any, Any]:
    try:
        parse = importlib.import_module("limits").parse
        storage = importlib.import_module("limits.aio.storage").RedisStorage
        strategies = importlib.import_module("limits.aio.strategies")
    except ImportError as exc:  # pragma: no cover - the arq extra installs it
        raise ConfigurationError(
            "a shared rate needs the limits package: pip install 'kycflow[arq]'"
        ) from exc
    return parse, storage, strategies.MovingWindowRateLimiter


class RedisCoordinator:
    """Pauses and a per-host rate shared by every process using the same ``redis``
    (a ``redis.asyncio.Redis`` or arq's ``ArqRedis``) and ``prefix``.

    ``rate``: e.g. ``"20/second"`` or ``"600/minute"`` (``limits`` notation); ``None``: pauses
    only.
    """

    def __init__(
        self, redis: Any, *, rate: str | None = None, prefix: str = DEFAULT_FLOW_PREFIX
    ) -> None:
        self.redis = redis
        self.prefix = prefix
        self.rate = rate
        self._limiter: Any = None
        self._item: Any = None
        if rate is not None:
            parse, storage, limiter = _limits()
            try:
                self._item = parse(rate)
            except ValueError as exc:
                raise ConfigurationError(f"rate {rate!r} is not a limits rate string") from exc
            self._limiter = limiter(
                storage(
                    "async+redis://",
                    implementation="redispy",
                    connection_pool=redis.connection_pool,
                    key_prefix=prefix + "rate",
                )
            )

    def __repr__(self) -> str:
        return f"RedisCoordinator(rate={self.rate!r}, prefix={self.prefix!r})"

    def pause_key(self, host: str) -> str:
        """The Redis key of ``host``'s pause."""
        return f"{self.prefix}pause:{host}"

    async def remaining_pause(self, host: str) -> float:
        """Seconds ``host`` is still paused for, fleet-wide."""
        left = int(await self.redis.pttl(self.pause_key(host)))
        return max(left, 0) / 1000

    async def pause(self, host: str, seconds: float) -> None:
        """Pause ``host`` for every process for ``seconds`` from now."""
        ms = int(seconds * 1000)
        if ms <= 0:
            return
        try:
            await self.redis.eval(_PAUSE, 1, self.pause_key(host), ms)
        except Exception as exc:
            _log.warning("flow.pause_failed", host=host, error=type(exc).__name__)

    async def acquire(self, host: str, max_wait: float | None = None) -> None:
        """Wait out the fleet's pause of ``host``, then a slot of its shared rate."""
        started = time.monotonic()
        try:
            await self._wait_pause(host, started, max_wait)
            if self._limiter is not None:
                await self._wait_rate(host, started, max_wait)
        except TimeoutError:
            raise
        except Exception as exc:  # fail open: see the module doc
            _log.warning("flow.acquire_failed", host=host, error=type(exc).__name__)

    async def _wait_pause(self, host: str, started: float, max_wait: float | None) -> None:
        while True:
            wait = await self.remaining_pause(host)
            if wait <= 0:
                return
            if max_wait is not None and time.monotonic() + wait > started + max_wait:
                raise TimeoutError
            await asyncio.sleep(wait)

    async def _wait_rate(self, host: str, started: float, max_wait: float | None) -> None:
        while not await self._limiter.hit(self._item, host):
            stats = await self._limiter.get_window_stats(self._item, host)
            # Jittered, so that the fleet's waiters do not all ask again at the same instant.
            wait = max(stats.reset_time - time.time(), _MIN_RATE_WAIT) * random.uniform(1.0, 1.5)
            if max_wait is not None and time.monotonic() + wait > started + max_wait:
                raise TimeoutError
            await asyncio.sleep(wait)
