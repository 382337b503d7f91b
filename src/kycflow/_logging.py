"""structlog setup of kycflow: the ``kycflow`` logger and a processor that scrubs secrets.

kycflow never puts a secret into an event itself; ``redact_processor`` is the second line of
defence for whatever an application binds into the context.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping, MutableMapping
from typing import Any

import structlog

__all__ = ["LOGGER_NAME", "configure_logging", "get_logger", "is_enabled", "redact_processor"]

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


class _StdlibFallback:
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


# structlog keeps its global configuration on one object. Reading its fields is far cheaper
# than ``get_config()`` (which builds a dict) or ``get_logger()`` (which builds a proxy and a
# bound logger on every call); ``get_config`` stays the fallback should that object go away.
_STRUCTLOG_CONFIG: Any = getattr(getattr(structlog, "_config", None), "_CONFIG", None)
_STDLIB_LOGGER = logging.getLogger(LOGGER_NAME)
_FILTERING_CLASSES: Any = frozenset(
    getattr(getattr(structlog, "_native", None), "LEVEL_TO_FILTERING_LOGGER", {}).values()
)


class _State:
    """The bound ``kycflow`` logger and the structlog configuration it was built under."""

    __slots__ = (
        "base",
        "check",
        "configured",
        "context",
        "factory",
        "min_level",
        "processors",
        "wrapper",
    )

    def __init__(self) -> None:
        cfg = _STRUCTLOG_CONFIG
        if cfg is not None:
            self.configured: Any = cfg.is_configured
            self.wrapper: Any = cfg.default_wrapper_class
            self.processors: Any = cfg.default_processors
            self.factory: Any = cfg.logger_factory
            self.context: Any = cfg.default_context_class
        else:
            conf = structlog.get_config()
            self.configured = structlog.is_configured()
            self.wrapper = conf["wrapper_class"]
            self.processors = conf["processors"]
            self.factory = conf["logger_factory"]
            self.context = conf["context_class"]
        # ``bind()`` on the lazy proxy assembles the configured wrapper class once.
        self.base: Any = (
            structlog.get_logger(LOGGER_NAME).bind() if self.configured else _StdlibFallback.get()
        )
        self.check: Any = getattr(self.base, "is_enabled_for", None) if self.configured else None
        # structlog's own filtering loggers are classes made per level, their level fixed: it
        # is compared here, with no call per check. Any other wrapper is asked every time.
        self.min_level: int | None = None
        if self.configured and self.wrapper in _FILTERING_CLASSES:
            self.min_level = self.base.get_effective_level()


_state: list[_State] = []  # at most one: the state for the current configuration


def _resolve() -> _State:
    # Runs on every event and level check: one comparison chain when nothing changed. Identity,
    # not equality: two processor lists can be equal yet distinct objects. A list changed in
    # place (as ``structlog.testing.capture_logs`` does) needs no new logger, since the bound
    # logger holds that very list.
    if _state:
        state = _state[0]
        cfg = _STRUCTLOG_CONFIG
        try:
            if (
                cfg.default_processors is state.processors
                and cfg.default_wrapper_class is state.wrapper
                and cfg.is_configured is state.configured
                and cfg.logger_factory is state.factory
                and cfg.default_context_class is state.context
            ):
                return state
        except AttributeError:  # structlog without that object: rebuilt every time
            pass
    state = _State()
    _state[:] = [state]
    return state


class KycflowLogger:
    """The ``kycflow`` logger: the application's structlog configuration when it has one,
    else the stdlib logger ``kycflow``. Re-resolved whenever structlog's configuration
    changes, so configuring logging after importing kycflow works."""

    __slots__ = ("_bound", "_context", "_state")

    def __init__(self, context: Mapping[str, Any] | None = None) -> None:
        self._context: dict[str, Any] = dict(context or {})
        self._state: _State | None = None
        self._bound: Any = None

    def bind(self, **values: Any) -> KycflowLogger:
        return KycflowLogger({**self._context, **values})

    def _target(self) -> Any:
        state = _resolve()
        if not self._context:
            return state.base
        if self._state is not state:
            self._bound = state.base.bind(**self._context)
            self._state = state
        return self._bound

    def is_enabled_for(self, level: int) -> bool:
        return _enabled(_resolve(), level)

    def debug(self, event: str, **values: Any) -> None:
        self._target().debug(event, **values)

    def info(self, event: str, **values: Any) -> None:
        self._target().info(event, **values)

    def warning(self, event: str, **values: Any) -> None:
        if "exc_info" in values:
            values = _without_traceback(values)
        self._target().warning(event, **values)

    def error(self, event: str, **values: Any) -> None:
        if "exc_info" in values:
            values = _without_traceback(values)
        self._target().error(event, **values)

    def exception(self, event: str, **values: Any) -> None:
        """``error`` naming the exception being handled: never its traceback."""
        self.error(event, **{"exc_info": True, **values})


def _without_traceback(values: dict[str, Any]) -> dict[str, Any]:
    # A rendered traceback can show frame locals (rich does by default): kycflow's events carry
    # the exception's type instead.
    exc_info = values.pop("exc_info")
    if exc_info is True:
        exc_info = sys.exc_info()[1]
    elif isinstance(exc_info, tuple):
        exc_info = exc_info[1]
    if isinstance(exc_info, BaseException):
        values.setdefault("error_type", type(exc_info).__name__)
    return values


def get_logger() -> KycflowLogger:
    """The ``kycflow`` logger (see ``KycflowLogger``)."""
    return KycflowLogger()


def is_enabled(logger: Any, level: int) -> bool:
    """Whether ``logger`` would emit at ``level``: lets hot paths skip building events."""
    if type(logger) is KycflowLogger:
        return _enabled(_resolve(), level)  # ``is_enabled_for`` without its call: every request
    return _ask(getattr(logger, "is_enabled_for", None), level)


def _enabled(state: _State, level: int) -> bool:
    if state.min_level is not None:
        return level >= state.min_level
    if not state.configured:
        return _STDLIB_LOGGER.isEnabledFor(level)
    return _ask(state.check, level)


def _ask(check: Any, level: int) -> bool:
    if check is None:
        return True
    try:
        return bool(check(level))
    except Exception:  # a custom wrapper class without the method's semantics
        return True
