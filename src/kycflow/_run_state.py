"""The state of one wizard run and its plumbing: checkpoint saves, events, retry accounting."""

from __future__ import annotations

import asyncio
import inspect
import logging
from typing import TYPE_CHECKING

from . import _telemetry as telemetry
from ._logging import get_logger, is_enabled
from .checkpoint import Checkpoint, CheckpointStore
from .events import Retrying, WizardEvent

if TYPE_CHECKING:
    from .runner import WizardRunner

__all__ = ["RunState"]


class RunState:
    """The state of one ``run()`` call, so a runner may be run again (or concurrently)."""

    def __init__(self, runner: WizardRunner, run_id: str) -> None:
        self.r = runner
        self.run_id = run_id
        # Without a user's store nobody can read a save back (nor has saved anything to load):
        # ``self.cp`` is the only copy needed.
        self.store: CheckpointStore | None = runner.checkpoint_store
        self.persist = self.store is not None
        self.key = runner.checkpoint_key or run_id
        self.log = get_logger().bind(run_id=run_id)
        self.cp = Checkpoint(key=self.key, run_id=run_id)
        self.retries = 0
        self.resumed = False
        self.lock = asyncio.Lock()

    async def _retrying(
        self, number: int, action: str, type_id: int | None, attempt: int, exc: BaseException
    ) -> None:
        self.retries += 1
        cause = getattr(exc, "cause", None)
        telemetry.record_retry(action, type(cause or exc).__name__)
        await self._emit(
            Retrying(
                run_id=self.run_id,
                step=number,
                action=action,
                type_id=type_id,
                attempt=attempt,
                reason=type(cause or exc).__name__,
            )
        )

    async def _save(self) -> None:
        if self.store is None:
            return
        async with self.lock:
            await self._save_locked()

    async def _save_locked(self) -> None:
        if self.store is None:
            return
        # A deep copy: a store that serialises lazily must not see later mutations.
        await self.store.save(self.key, self.cp.model_copy(deep=True))

    def _wants_events(self) -> bool:
        """Whether an event would reach anyone: lets hot paths skip building it."""
        return self.r.on_event is not None or is_enabled(self.log, logging.INFO)

    async def _emit(self, event: WizardEvent) -> None:
        if is_enabled(self.log, logging.INFO):
            fields = {
                k: v
                for k, v in event.to_dict().items()
                if k not in ("event", "run_id", "timestamp", "schema_version", "kind")
            }
            self.log.info(event.name, **fields)
        callback = self.r.on_event
        if callback is None:
            return
        try:
            result = callback(event)
            if inspect.isawaitable(result):
                await result
        except Exception as exc:
            # A broken progress display must not break a verification. No traceback: its
            # frame locals (rendered by rich) could carry anything.
            self.log.warning(
                "wizard.event_callback_failed", event_name=event.name, error_type=type(exc).__name__
            )
