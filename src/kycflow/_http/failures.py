"""What a failed attempt becomes: a network exception's kycflow error, and the retry signal.

``Transport``'s attempt loop raises ``RetrySignal`` for a failure its policy retries (tenacity
retries on that type alone) and the kycflow error, or ``OutcomeUnknownError``, otherwise.
"""

from __future__ import annotations

import ssl as ssl_module
from typing import NoReturn

import aiohttp

from ..errors import (
    APIConnectError,
    APIConnectionError,
    APIError,
    APITimeoutError,
    APITLSError,
    OutcomeUnknownError,
)
from .retry import Action, Decision, Failure

__all__ = ["RetrySignal", "failure_of", "map_exception", "raise_for"]

# aiohttp >= 3.10 tells a connect timeout (never sent) apart from a read timeout.
_CONNECT_TIMEOUT_ERRORS: tuple[type[BaseException], ...] = tuple(
    t for t in (getattr(aiohttp, "ConnectionTimeoutError", None),) if isinstance(t, type)
)


class RetrySignal(Exception):
    """Internal: an attempt failed in a way the policy retries."""

    def __init__(self, error: APIError, reason: str, retry_after: float | None) -> None:
        super().__init__(reason)
        self.error = error
        self.reason = reason
        self.retry_after = retry_after


def map_exception(exc: BaseException) -> tuple[Failure, APIError] | None:
    """The failure kind and kycflow error for a network-level exception (None if not one)."""
    name = type(exc).__name__
    if isinstance(exc, _CONNECT_TIMEOUT_ERRORS):
        return Failure.CONNECT_TIMEOUT, APITimeoutError(
            "timed out connecting to the server", connecting=True
        )
    # A pinned fingerprint is checked while connecting, before anything is sent.
    tls = aiohttp.ClientSSLError | aiohttp.ServerFingerprintMismatch | ssl_module.SSLError
    if isinstance(exc, tls):
        return Failure.TLS, APITLSError(f"TLS handshake with the server failed ({name})")
    if isinstance(exc, aiohttp.ClientConnectorError):
        return Failure.CONNECT, APIConnectError(
            f"cannot connect to {exc.host}:{exc.port} ({type(exc.os_error).__name__})"
        )
    if isinstance(exc, aiohttp.ServerTimeoutError | TimeoutError):
        return Failure.TIMEOUT, APITimeoutError("timed out waiting for the server's reply")
    if isinstance(exc, aiohttp.ClientError | OSError):
        return Failure.DISCONNECT, APIConnectionError(
            f"the connection to the server failed ({name})"
        )
    return None


def failure_of(exc: BaseException) -> tuple[Failure, APIError] | None:
    """The failure kind of what a seam's ``send`` raised: a kycflow connection error by its
    class (see ``AsyncTransport``), a network exception of a custom transport as mapped."""
    if not isinstance(exc, APIConnectionError):
        return map_exception(exc)
    if isinstance(exc, APITimeoutError):
        return (Failure.CONNECT_TIMEOUT if exc.connecting else Failure.TIMEOUT), exc
    if isinstance(exc, APIConnectError):
        return Failure.CONNECT, exc
    if isinstance(exc, APITLSError):
        return Failure.TLS, exc
    return Failure.DISCONNECT, exc


def raise_for(
    decision: Decision,
    error: APIError,
    cause: BaseException | None,
    retry_after: float | None,
) -> NoReturn:
    """Raise what ``decision`` makes of ``error``: a ``RetrySignal``, an unknown outcome, or it."""
    if decision.action is Action.RETRY:
        if cause is not None:
            error.__cause__ = cause
        raise RetrySignal(error, decision.reason, retry_after)
    if decision.action is Action.OUTCOME_UNKNOWN:
        raise OutcomeUnknownError(
            f"{error.method} {error.path}: the request may have reached the server "
            f"({decision.reason}); it was not retried",
            cause=error,
            method=error.method,
            path=error.path,
        ) from (cause or error)
    if cause is not None:
        raise error from cause
    raise error
