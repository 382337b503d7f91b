"""Rate/pause coordinators: what the transport asks before every request and tells after a
``Retry-After``.

``LocalCoordinator`` (the default) coordinates one client's calls in this process; a fleet of
workers shares one through Redis (``kycflow.integrations.redis_coordination``), so that N
processes together respect the vendor's pause and rate.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Protocol, runtime_checkable

from ..errors import ConfigurationError
from .flow_control import PauseGate, RateGate

__all__ = ["LocalCoordinator", "RequestCoordinator"]


@runtime_checkable
class RequestCoordinator(Protocol):
    """Spaces a client's requests to a host."""

    async def acquire(self, host: str, max_wait: float | None = None) -> None:
        """Return when a request to ``host`` may be sent: past any pause, within the rate.
        Raise ``TimeoutError`` at once if that is more than ``max_wait`` seconds away."""
        ...

    async def pause(self, host: str, seconds: float) -> None:
        """Hold every request to ``host`` for ``seconds`` (the server sent ``Retry-After``)."""
        ...


class LocalCoordinator:
    """This process's pauses and (optionally) a per-host rate of ``rate`` requests a second
    with bursts of ``burst``. ``rate=None``: no rate limit, pauses only."""

    def __init__(
        self,
        *,
        rate: float | None = None,
        burst: int = 1,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if rate is not None and (not rate > 0 or burst < 1):
            raise ConfigurationError("rate must be > 0 (or None) and burst >= 1")
        self._pauses = PauseGate()
        self._rate = None if rate is None else RateGate(rate, burst)
        self._clock = clock
        self._sleep = sleep
        self.paused_waits = 0
        """How many acquires waited on a pause (for tests and metrics)."""
        self.idle = self._rate is None
        """Whether a request to any host may go at once, with nothing to wait out or book (no
        rate, no pause): the call path skips ``acquire`` then. An ended pause is dropped, and
        this set again, by the next ``acquire``."""

    def __repr__(self) -> str:
        rate = None if self._rate is None else self._rate.rate
        return f"LocalCoordinator(rate={rate!r})"

    def remaining_pause(self, host: str) -> float:
        """Seconds ``host`` is still paused for."""
        return self._pauses.remaining(host, self._clock())

    async def acquire(self, host: str, max_wait: float | None = None) -> None:
        """Wait out ``host``'s pause, then take a slot of its rate (``TimeoutError`` when that
        would take more than ``max_wait`` seconds)."""
        started = self._clock()
        while True:
            now = self._clock()
            wait = self._pauses.remaining(host, now)
            if wait <= 0:
                break
            if max_wait is not None and now + wait > started + max_wait:
                raise TimeoutError
            self.paused_waits += 1
            await self._sleep(wait)
        if self._rate is None:
            self.idle = not self._pauses.any_left(self._clock())
        else:
            wait = self._rate.reserve(host, self._clock())
            if wait > 0:
                # Booked either way: a caller that gives up leaves its slot unused, not reused.
                if max_wait is not None and self._clock() + wait > started + max_wait:
                    raise TimeoutError
                await self._sleep(wait)

    async def pause(self, host: str, seconds: float) -> None:
        """Pause ``host`` for ``seconds`` from now (never shortening a longer pause)."""
        self.idle = False
        self._pauses.pause(host, seconds, self._clock())
