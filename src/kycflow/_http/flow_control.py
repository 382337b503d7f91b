"""Flow control as pure logic: the client-wide retry budget, per-host pauses and request rates.

No I/O and no clock of its own: every method takes ``now`` (seconds, any monotonic origin).

- ``RetryBudget``: the AWS SDKs' "standard" retry quota. A retry draws ``retry_cost`` tokens
  (``timeout_cost`` after a timeout) from a bucket of ``capacity``; when the bucket cannot pay,
  the retry is not made and the call fails with its last error. A call that succeeds at once
  puts ``success_refill`` back; one that succeeds after retries puts back what its last retry
  drew. So a healthy client always has its full budget, while a client facing an outage stops
  retrying after ``capacity / retry_cost`` retries and its load falls to first attempts only.
- ``PauseGate``: a ``Retry-After`` pauses every request to that host until it passes.
- ``RateGate``: a per-host token bucket; ``reserve`` says how long a request must wait.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

__all__ = [
    "DEFAULT_RETRY_CAPACITY",
    "DEFAULT_RETRY_COST",
    "DEFAULT_SUCCESS_REFILL",
    "DEFAULT_TIMEOUT_COST",
    "PauseGate",
    "RateGate",
    "RetryBudget",
]

# The AWS SDKs' standard retry mode: 500 tokens, 5 a retry, 10 after a timeout, 1 back a success.
DEFAULT_RETRY_CAPACITY = 500
DEFAULT_RETRY_COST = 5
DEFAULT_TIMEOUT_COST = 10
DEFAULT_SUCCESS_REFILL = 1


@dataclass
class RetryBudget:
    """A client-wide quota that retries draw from and successes refill (see the module doc).
    ``capacity=None`` disables it (every retry the per-call policy allows is made)."""

    capacity: int | None = DEFAULT_RETRY_CAPACITY
    retry_cost: int = DEFAULT_RETRY_COST
    timeout_cost: int = DEFAULT_TIMEOUT_COST
    success_refill: int = DEFAULT_SUCCESS_REFILL
    tokens: float = field(init=False)
    first_attempts: int = field(default=0, init=False)
    """Calls made (each call's first attempt)."""
    retries: int = field(default=0, init=False)
    """Retries made (each drew from the budget)."""
    denied: int = field(default=0, init=False)
    """Retries refused because the budget was empty."""

    def __post_init__(self) -> None:
        if self.capacity is not None and self.capacity < 0:
            raise ValueError("capacity must be >= 0 or None")
        if min(self.retry_cost, self.timeout_cost, self.success_refill) < 0:
            raise ValueError("costs and refill must be >= 0")
        self.tokens = math.inf if self.capacity is None else float(self.capacity)

    def started(self) -> None:
        """A call's first attempt is being made (counted, free)."""
        self.first_attempts += 1

    def draw(self, *, timeout: bool = False) -> int | None:
        """Take a retry's cost; returns it, or None (retry refused) when the bucket is short."""
        cost = self.timeout_cost if timeout else self.retry_cost
        if self.tokens < cost:
            self.denied += 1
            return None
        self.tokens -= cost
        self.retries += 1
        return cost

    def succeeded(self, refund: int | None = None) -> None:
        """A call succeeded: ``refund`` is what its last retry drew (None: no retry)."""
        if self.capacity is None:
            return
        back = self.success_refill if refund is None else refund
        self.tokens = min(float(self.capacity), self.tokens + back)

    @property
    def retry_ratio(self) -> float:
        """Retries per first attempt so far."""
        return self.retries / self.first_attempts if self.first_attempts else 0.0


class PauseGate:
    """Per-host pauses: ``pause(host, seconds, now)`` holds every request to ``host`` until
    ``now + seconds`` (a later pause extends it, an earlier one never shortens it)."""

    __slots__ = ("_until",)

    def __init__(self) -> None:
        self._until: dict[str, float] = {}

    def pause(self, host: str, seconds: float, now: float) -> float:
        """Pause ``host``; returns when the pause ends."""
        until = max(self._until.get(host, 0.0), now + max(seconds, 0.0))
        self._until[host] = until
        return until

    def any_left(self, now: float) -> bool:
        """Whether any host is still paused at ``now`` (ended pauses are dropped)."""
        until = self._until
        for host in [h for h, end in until.items() if end <= now]:
            del until[host]
        return bool(until)

    def remaining(self, host: str, now: float) -> float:
        """Seconds a request to ``host`` must still wait (0 when not paused)."""
        until = self._until.get(host)
        if until is None:
            return 0.0
        if until <= now:
            del self._until[host]
            return 0.0
        return until - now


class RateGate:
    """A token bucket per host: ``rate`` requests a second, bursts of up to ``burst``.

    ``reserve`` books the next slot and returns the wait before it, so concurrent callers are
    spaced out in arrival order instead of all retrying at the same instant."""

    __slots__ = ("_state", "burst", "rate")

    def __init__(self, rate: float, burst: int = 1) -> None:
        if not rate > 0 or burst < 1:
            raise ValueError("rate must be > 0 and burst >= 1")
        self.rate = float(rate)
        self.burst = burst
        self._state: dict[str, tuple[float, float]] = {}  # host -> (tokens, at)

    def reserve(self, host: str, now: float) -> float:
        """Book one request to ``host``; the seconds to wait before sending it."""
        tokens, at = self._state.get(host, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + max(now - at, 0.0) * self.rate) - 1.0
        self._state[host] = (tokens, now)
        return 0.0 if tokens >= 0 else -tokens / self.rate
