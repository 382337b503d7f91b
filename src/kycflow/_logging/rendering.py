"""How kycflow's events are scrubbed and rendered: the redacting processor, the chain
``configure_logging`` installs, and the stdlib chain used until an application configures
structlog."""

from __future__ import annotations

import logging
from collections.abc import Mapping, MutableMapping
from typing import Any

import structlog

LOGGER_NAME = "kycflow"
REDACTED = "[redacted]"

_SECRET_KEYS = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "cookie",
        "set-cookie",
        "token",
        "access_token",
        "accesstoken",
        "refresh_token",
        "refreshtoken",
        "password",
        "passwd",
        "secret",
        "client_secret",
        "api_key",
        "apikey",
        "otp",
    }
)
# Keys that merely contain one of these words are secrets too (x_auth_token, db_password).
_SECRET_PARTS = ("token", "password", "secret", "authorization")
_MAX_DEPTH = 6


def _is_secret_key(key: object) -> bool:
    if not isinstance(key, str):
        return False
    low = key.lower()
    return low in _SECRET_KEYS or any(part in low for part in _SECRET_PARTS)


def _scrub(value: Any, depth: int = 0) -> Any:
    if isinstance(value, bytes | bytearray | memoryview):
        return f"<{len(value)} bytes>"
    if depth >= _MAX_DEPTH:
        return value
    if isinstance(value, Mapping):
        return {
            k: (REDACTED if _is_secret_key(k) else _scrub(v, depth + 1)) for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return type(value)(_scrub(v, depth + 1) for v in value)
    return value


def redact_processor(
    logger: Any, method_name: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: replace secret-looking keys (at any depth) and bytes values.

    Keys such as ``authorization``, ``token``, ``access_token``, ``refresh_token``,
    ``password`` and ``secret`` (or any key containing those words) become ``[redacted]``;
    bytes become ``<N bytes>``.
    """
    for key in list(event_dict):
        if key == "event":
            continue
        if _is_secret_key(key):
            event_dict[key] = REDACTED
        else:
            event_dict[key] = _scrub(event_dict[key])
    return event_dict


def configure_logging(level: int | str = logging.INFO, *, json: bool = False) -> None:
    """Configure structlog globally for an application using kycflow (optional convenience).

    Events below ``level`` cost almost nothing (structlog's filtering bound logger). Every
    event passes through ``redact_processor`` before it is rendered.
    """
    if isinstance(level, str):
        numeric = logging.getLevelName(level.upper())
        if not isinstance(numeric, int):
            raise ValueError(f"unknown log level: {level!r}")
        level = numeric
    # Plain tracebacks: structlog's default (rich) renders every frame's locals, secrets too.
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if json
        else structlog.dev.ConsoleRenderer(
            colors=False, exception_formatter=structlog.dev.plain_traceback
        )
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso"),
            redact_processor,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        cache_logger_on_first_use=False,
    )


class StdlibFallback:
    """Where kycflow's events go while the application has not configured structlog.

    structlog's own default prints every event to stdout, which no library should do to its
    host. Until ``structlog.configure`` is called, events go to the stdlib logger ``kycflow``
    instead, so the usual rules apply (WARNING and above reach stderr, the rest is silent until
    the application configures ``logging``).
    """

    _logger: Any = None

    @classmethod
    def get(cls) -> Any:
        if cls._logger is None:
            cls._logger = structlog.wrap_logger(
                logging.getLogger(LOGGER_NAME),
                processors=[
                    structlog.stdlib.filter_by_level,
                    structlog.contextvars.merge_contextvars,  # a run's run_id and job_key
                    redact_processor,
                    structlog.processors.KeyValueRenderer(key_order=["event"]),
                ],
                wrapper_class=structlog.stdlib.BoundLogger,
            )
        return cls._logger
