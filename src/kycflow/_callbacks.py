"""Calling the application's callbacks, which may be plain functions or coroutine functions."""

from __future__ import annotations

import contextvars
import inspect
import threading
from collections.abc import Callable
from typing import Any

from ._logging import get_logger

_log = get_logger()
_per_thread = threading.local()


def timer_context() -> contextvars.Context:
    """An empty context for kycflow's own timer callbacks (which read no context variable), so
    that each of thousands of timers does not copy the caller's. One per thread: a context is
    entered by one caller at a time, and event loops in other threads fire timers too."""
    context: contextvars.Context | None = getattr(_per_thread, "context", None)
    if context is None:
        context = _per_thread.context = contextvars.Context()
    return context


async def call_maybe_async(callback: Callable[..., Any], *args: Any) -> Any:
    """Call ``callback(*args)`` and await its result when it is awaitable."""
    result = callback(*args)
    if inspect.isawaitable(result):
        return await result
    return result


async def notify(callback: Callable[..., Any] | None, *args: Any, failure_event: str) -> None:
    """Call an observer callback; its failure is logged by type and never propagates.

    Only the exception's type is logged: its message or a traceback (with the frame locals a
    rich renderer shows) could carry anything.
    """
    if callback is None:
        return
    try:
        await call_maybe_async(callback, *args)
    except Exception as exc:
        _log.warning(failure_event, error_type=type(exc).__name__)
