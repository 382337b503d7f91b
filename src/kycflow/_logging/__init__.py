"""structlog setup of kycflow: the ``kycflow`` logger, re-resolved when structlog's
configuration changes, and a processor that scrubs secrets (``rendering``).

kycflow never puts a secret into an event itself; ``redact_processor`` is the second line of
defence for whatever an application binds into the context.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping
from typing import Any

import structlog

from .rendering import LOGGER_NAME, REDACTED, StdlibFallback, configure_logging, redact_processor

__all__ = [
    "LOGGER_NAME",
    "REDACTED",
    "configure_logging",
    "get_logger",
    "is_enabled",
    "redact_processor",
]

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
            structlog.get_logger(LOGGER_NAME).bind() if self.configured else StdlibFallback.get()
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
