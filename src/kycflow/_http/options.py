"""Settings: the transport's (client-wide, one frozen object) and one call's (resolved)."""

from __future__ import annotations

import asyncio
import random
import ssl as ssl_module
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypedDict

import aiohttp

from .._constants import (
    DEFAULT_CONNECTION_LIMIT,
    DEFAULT_CONNECTION_LIMIT_PER_HOST,
    INITIAL_BACKOFF,
    MAX_BACKOFF,
    MAX_RESPONSE_BYTES,
    MAX_RETRY_AFTER,
    USER_AGENT,
)
from ..errors import ConfigurationError
from .coordination import LocalCoordinator, RequestCoordinator
from .flow_control import RetryBudget
from .timeouts import make_timeout

__all__ = [
    "CallOptions",
    "RequestOptions",
    "TimeoutArg",
    "TransportOptions",
    "check_deadline",
    "check_headers",
    "check_option_keys",
    "check_retries",
    "resolve_call_options",
]

TimeoutArg = float | aiohttp.ClientTimeout | None


@dataclass(frozen=True, slots=True)
class TransportOptions:
    """How the transport sends, retries and paces: shared by a client and all its views."""

    allow_insecure_http: bool = False
    max_response_bytes: int = MAX_RESPONSE_BYTES
    connection_limit: int = DEFAULT_CONNECTION_LIMIT
    connection_limit_per_host: int = DEFAULT_CONNECTION_LIMIT_PER_HOST
    ssl: ssl_module.SSLContext | bool = True
    initial_backoff: float = INITIAL_BACKOFF
    max_backoff: float = MAX_BACKOFF
    max_retry_after: float = MAX_RETRY_AFTER
    user_agent: str = USER_AGENT
    rng: random.Random = field(default_factory=random.Random)
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    retry_budget: RetryBudget = field(default_factory=RetryBudget)
    """Client-wide: every call's retries draw from one budget."""
    coordinator: RequestCoordinator = field(default_factory=LocalCoordinator)
    """Client-wide: a Retry-After pauses every call to the host."""

    @classmethod
    def of(cls, **settings: Any) -> TransportOptions:
        """Options from keyword settings, where None means the default."""
        return cls(**{name: value for name, value in settings.items() if value is not None})

    def __post_init__(self) -> None:
        if self.ssl is False and not self.allow_insecure_http:
            raise ConfigurationError(
                "ssl=False disables TLS verification: also pass allow_insecure_http=True"
            )


@dataclass(frozen=True, slots=True)
class CallOptions:
    """Resolved settings of one call."""

    timeout: aiohttp.ClientTimeout
    max_retries: int
    deadline: float | None
    extra_headers: Mapping[str, str] | None = None


class RequestOptions(TypedDict, total=False):
    """Per-call overrides every endpoint method accepts as keyword arguments."""

    timeout: TimeoutArg
    """Seconds for the whole attempt (or a ``ClientTimeout``)."""
    max_retries: int
    """Retries after the first attempt."""
    deadline: float | None
    """Seconds for the whole call, retries and waits included (None: no deadline)."""
    extra_headers: Mapping[str, str]
    """Headers added to this call."""


_OPTION_KEYS = frozenset(RequestOptions.__annotations__)


def resolve_call_options(
    defaults: CallOptions, overrides: RequestOptions, default_timeout: aiohttp.ClientTimeout
) -> CallOptions:
    """``overrides`` applied to ``defaults`` (``default_timeout`` when no timeout is given)."""
    check_option_keys(overrides)
    timeout = make_timeout(overrides["timeout"]) if "timeout" in overrides else default_timeout
    return CallOptions(
        timeout=timeout,
        max_retries=check_retries(overrides.get("max_retries", defaults.max_retries)),
        deadline=check_deadline(overrides["deadline"])
        if "deadline" in overrides
        else defaults.deadline,
        extra_headers=check_headers(overrides.get("extra_headers")),
    )


def check_headers(headers: Mapping[str, str] | None) -> Mapping[str, str] | None:
    """``headers`` if every name and value is a str without CR/LF (the value is never quoted:
    it may be a credential)."""
    if headers is None:
        return None
    if not isinstance(headers, Mapping):
        raise ConfigurationError("extra_headers must be a mapping of str to str")
    for name, value in headers.items():
        if not isinstance(name, str) or not name or any(c in name for c in "\r\n:"):
            raise ConfigurationError(f"extra_headers: invalid header name {name!r}")
        if not isinstance(value, str):
            raise ConfigurationError(f"extra_headers[{name!r}] must be a str")
        if "\r" in value or "\n" in value:
            raise ConfigurationError(f"extra_headers[{name!r}] contains a CR or LF")
    return headers


def check_retries(value: int) -> int:
    """``value`` if it is a valid ``max_retries``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigurationError("max_retries must be an int >= 0")
    return value


def check_deadline(value: float | None) -> float | None:
    """``value`` as a deadline in seconds (or None)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ConfigurationError("deadline must be a positive number of seconds or None")
    return float(value)


def check_option_keys(options: Mapping[str, Any]) -> None:
    """Refuse keys that are not request options."""
    unknown = set(options) - _OPTION_KEYS
    if unknown:
        raise ConfigurationError(f"unknown request option(s): {', '.join(sorted(unknown))}")
