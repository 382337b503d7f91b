"""The run's retry decisions, pure: which failures are transient, and how long to wait.

Inside a ``WizardRunner`` run the run's deadline is the retry budget: a transient failure of an
idempotent call (reading the wizard, an upload) is retried with capped exponential backoff and
full jitter for as long as the deadline allows; a submit is never resent blindly but reconciled
after a settle delay that grows per attempt.
"""

from __future__ import annotations

import random

from ..errors import (
    APIConnectionError,
    APIStatusError,
    APITLSError,
    OutcomeUnknownError,
    ProtocolError,
    RateLimitError,
    ServerError,
)

__all__ = [
    "RETRY_BACKOFF_CAP",
    "RETRY_BACKOFF_INITIAL",
    "SETTLE_DELAY_CAP",
    "full_jitter",
    "is_transient",
    "settle_delay",
]

# Full jitter from 0.5 s, capped at 10 s (AWS's "exponential backoff and jitter"): spreads
# thousands of runs recovering at once, and a 10 s cap lets a run notice a recovered server soon.
RETRY_BACKOFF_INITIAL = 0.5
RETRY_BACKOFF_CAP = 10.0
SETTLE_DELAY_CAP = 30.0
# Upward jitter only: a settle delay is a lower bound on how long a server may still commit.
_SETTLE_JITTER = 0.1
_TRANSIENT_STATUSES = frozenset({408, 425})
_DEFINITE_5XX = frozenset({501, 505})


def is_transient(exc: BaseException) -> bool:
    """Whether trying the same idempotent call again may succeed."""
    if isinstance(exc, OutcomeUnknownError):
        return True
    if isinstance(exc, APIConnectionError):  # timeouts included, a bad certificate not
        return not isinstance(exc, APITLSError)
    if isinstance(exc, ProtocolError):
        return exc.transient
    if isinstance(exc, RateLimitError):
        return True
    if isinstance(exc, ServerError):
        return exc.status not in _DEFINITE_5XX
    if isinstance(exc, APIStatusError):
        return exc.status in _TRANSIENT_STATUSES
    return False


def full_jitter(
    attempt: int,
    rng: random.Random,
    *,
    initial: float = RETRY_BACKOFF_INITIAL,
    cap: float = RETRY_BACKOFF_CAP,
) -> float:
    """Delay before retry ``attempt`` (from 1): uniform in ``[0, min(cap, initial*2**(n-1))]``."""
    base = min(cap, initial * (2.0 ** min(max(attempt, 1) - 1, 62)))
    return rng.uniform(0.0, base)


def settle_delay(
    attempt: int, rng: random.Random, *, initial: float, cap: float = SETTLE_DELAY_CAP
) -> float:
    """Seconds to let an ambiguous submit land before reading the wizard (attempt from 1):
    ``initial`` doubling per attempt up to ``cap``, plus up to 10 % upward jitter."""
    if initial <= 0:
        return 0.0
    base = min(max(cap, initial), initial * (2.0 ** min(max(attempt, 1) - 1, 62)))
    return base * (1.0 + rng.uniform(0.0, _SETTLE_JITTER))
