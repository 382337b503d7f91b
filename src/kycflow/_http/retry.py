"""Retry decisions as pure functions: what to do after an attempt, and how long to wait.

No I/O here. The transport feeds each attempt's outcome (an HTTP status or a ``Failure``) to
``classify`` and sleeps ``parse_retry_after`` or ``backoff`` seconds before the next attempt.
"""

from __future__ import annotations

import enum
import random
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from .._constants import (
    INITIAL_BACKOFF,
    MAX_BACKOFF,
    MAX_RETRY_AFTER,
    POST_SAFE_RETRY_STATUSES,
    RETRYABLE_STATUSES,
)

__all__ = [
    "IDEMPOTENT_METHODS",
    "Action",
    "Decision",
    "Failure",
    "Outcome",
    "RetryPolicy",
    "backoff",
    "classify",
    "parse_retry_after",
]

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})
# 5xx replies that state the request was not applied: a POST that got one has a known outcome.
_DEFINITE_5XX = frozenset({501, 505})


class Failure(enum.Enum):
    """An attempt that ended without an HTTP status."""

    CONNECT = "connect"
    """The connection could not be opened: the request provably never left."""
    CONNECT_TIMEOUT = "connect_timeout"
    """Opening the connection timed out: the request provably never left."""
    TLS = "tls"
    """The TLS handshake failed (bad certificate): retrying cannot help."""
    TIMEOUT = "timeout"
    """The request was (maybe partly) sent, then the reply timed out."""
    DISCONNECT = "disconnect"
    """The connection broke after the request was (maybe partly) sent."""


Outcome = int | Failure


class Action(enum.Enum):
    """What the transport does with an attempt's outcome."""

    SUCCESS = "success"
    RETRY = "retry"
    RAISE = "raise"
    """Raise the attempt's error (a status error, or a connection error)."""
    OUTCOME_UNKNOWN = "outcome_unknown"
    """Raise ``OutcomeUnknownError``: the server may have applied the request."""


class RetryPolicy(enum.Enum):
    """Which outcomes may be retried at all."""

    DEFAULT = "default"
    CONNECT_ONLY = "connect_only"
    """Only retry when the request never left (sign-in: the vendor locks out on repeats)."""
    NO_RESEND = "no_resend"
    """Only retry when the request never left; any other failure after sending (a timeout, a
    reset, 429, 5xx, 503 included: a gateway may say so after the server committed) is an
    unknown outcome for the caller to reconcile (wizard submits)."""


@dataclass(frozen=True, slots=True)
class Decision:
    """``action`` to take and a short ``reason`` for the logs."""

    action: Action
    reason: str


_NEVER_SENT = frozenset({Failure.CONNECT, Failure.CONNECT_TIMEOUT})


def classify(method: str, outcome: Outcome, policy: RetryPolicy = RetryPolicy.DEFAULT) -> Decision:
    """Decide what to do after one attempt of ``method`` ended with ``outcome``.

    Idempotent methods retry connection failures, timeouts and 408/429/500/502/503/504. Other
    methods (POST) retry only when the request provably never reached the server (connect
    errors) or on 429/503 (which promise no effect); a timeout, a broken connection or another
    5xx after sending is an unknown outcome; a 4xx is raised. ``RetryPolicy.CONNECT_ONLY``
    retries connect errors and nothing else.
    """
    idempotent = method.upper() in IDEMPOTENT_METHODS
    if isinstance(outcome, Failure):
        reason = outcome.value
        if outcome in _NEVER_SENT:
            return Decision(Action.RETRY, reason)
        if outcome is Failure.TLS:
            return Decision(Action.RAISE, reason)
        if not idempotent or policy is RetryPolicy.NO_RESEND:
            return Decision(Action.OUTCOME_UNKNOWN, reason)
        if policy is RetryPolicy.CONNECT_ONLY:
            return Decision(Action.RAISE, reason)
        return Decision(Action.RETRY, reason)
    status = outcome
    if 200 <= status < 300:
        return Decision(Action.SUCCESS, f"status {status}")
    reason = f"status {status}"
    if policy is RetryPolicy.NO_RESEND:
        if status == 429 or (status >= 500 and status not in _DEFINITE_5XX):
            return Decision(Action.OUTCOME_UNKNOWN, reason)
        return Decision(Action.RAISE, reason)
    if policy is RetryPolicy.CONNECT_ONLY:
        if not idempotent and status >= 500 and status not in _DEFINITE_5XX | {503}:
            return Decision(Action.OUTCOME_UNKNOWN, reason)
        return Decision(Action.RAISE, reason)
    if idempotent:
        if status in RETRYABLE_STATUSES:
            return Decision(Action.RETRY, reason)
        return Decision(Action.RAISE, reason)
    if status in POST_SAFE_RETRY_STATUSES:
        return Decision(Action.RETRY, reason)
    if status >= 500 and status not in _DEFINITE_5XX:
        return Decision(Action.OUTCOME_UNKNOWN, reason)
    return Decision(Action.RAISE, reason)


def parse_retry_after(
    header: str | None, now: datetime | None = None, *, cap: float = MAX_RETRY_AFTER
) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date).

    Returns None for a missing or unparseable header, 0 for a date in the past, and never more
    than ``cap``.
    """
    if header is None:
        return None
    text = header.strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        seconds = None
    if seconds is not None:
        if seconds != seconds or seconds < 0:  # NaN or negative
            return None
        return min(seconds, cap)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    reference = now if now is not None else datetime.now(UTC)
    if reference.tzinfo is None:
        reference = reference.replace(tzinfo=UTC)
    delay = (when - reference).total_seconds()
    return min(max(delay, 0.0), cap)


def backoff(
    attempt: int,
    rng: random.Random | None = None,
    *,
    initial: float = INITIAL_BACKOFF,
    maximum: float = MAX_BACKOFF,
) -> float:
    """Delay before retry number ``attempt`` (1-based): exponential, capped, with jitter.

    The delay lies in ``[base / 2, base]`` where ``base = min(maximum, initial * 2**(attempt-1))``
    ("equal jitter": spread out concurrent clients, yet never retry immediately).
    """
    exponent = max(attempt, 1) - 1
    base = min(maximum, initial * (2.0 ** min(exponent, 62)))
    source = rng if rng is not None else random
    return base / 2 + source.uniform(0.0, base / 2)
