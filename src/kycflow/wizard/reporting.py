"""A runner's events: logged at INFO and given to the ``on_event`` callback, built only when
one of them listens."""

from __future__ import annotations

import logging

from .._callbacks import call_maybe_async
from .._logging import get_logger, is_enabled
from .events import WizardEvent
from .results import EventCallback

__all__ = ["Reporter", "log"]

log = get_logger()
"""The runner's logger. Runs pass their ``run_id`` in each call: no bound logger per run."""

_NOT_LOGGED = frozenset({"event", "timestamp", "schema_version", "kind"})


class Reporter:
    """Sends a runner's events to the log and its callback (one per runner, shared by runs)."""

    __slots__ = ("_callback",)

    def __init__(self, callback: EventCallback | None) -> None:
        self._callback = callback

    def wants(self) -> bool:
        """Whether an event would reach anyone: lets hot paths skip building it."""
        return self._callback is not None or is_enabled(log, logging.INFO)

    async def emit(self, event: WizardEvent) -> None:
        """Log ``event`` and give it to the callback; the callback's failure is logged only."""
        if is_enabled(log, logging.INFO):
            fields = {k: v for k, v in event.to_dict().items() if k not in _NOT_LOGGED}
            log.info(event.name, **fields)
        if self._callback is None:
            return
        try:
            await call_maybe_async(self._callback, event)
        except Exception as exc:
            # A broken progress display must not break a verification. No traceback: its
            # frame locals (rendered by rich) could carry anything.
            log.warning(
                "wizard.event_callback_failed",
                run_id=event.run_id,
                event_name=event.name,
                error_type=type(exc).__name__,
            )
