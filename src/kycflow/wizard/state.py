"""The state of one wizard run and its plumbing: checkpoint saves, events, retry accounting."""

from __future__ import annotations

import asyncio
import inspect
import logging
import random
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

from .. import _telemetry as telemetry
from .._constants import DEFAULT_RUN_DEADLINE
from .._logging import get_logger, is_enabled
from ..errors import APIConnectError, RateLimitError, WizardDeadlineError
from .checkpoint import Checkpoint, CheckpointStore
from .events import Retrying, WizardEvent
from .retrying import full_jitter, is_transient, settle_delay

if TYPE_CHECKING:
    from .runner import WizardRunner

__all__ = ["RunState", "describe_cause"]

T = TypeVar("T")
# Without a run deadline, one failing call is retried for at most this long.
_UNBOUNDED_RUN_BUDGET = DEFAULT_RUN_DEADLINE or 600.0
_MAX_HONOURED_RETRY_AFTER = 60.0

default_sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
"""What a runner built without ``sleep=`` waits with (looked up per run: tests swap it)."""


def describe_cause(exc: BaseException | None) -> str:
    """``ClassName: message`` of a failure, short, for a run's final error."""
    if exc is None:
        return "none"
    text = str(exc)
    text = text if len(text) <= 300 else text[:297] + "..."
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


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
        self.rng = runner.rng or random.Random()
        self.sleep = runner.sleep or default_sleep
        self.slept = 0.0
        """Seconds this run waited in its retries and settle delays (a fake clock's too)."""
        self.last_error: BaseException | None = None
        """The last transient failure the run retried or reconciled."""
        self.contacted = False
        """Whether the server has answered this run once: until then a refused connection
        is a wrong address or a server that is down, not worth the run's whole deadline."""

    async def _wait(self, seconds: float) -> None:
        budget = self.r.deadline if self.r.deadline is not None else _UNBOUNDED_RUN_BUDGET
        if self.slept + seconds > budget:
            # Counted in the waits themselves, so that a fake clock meets the deadline too.
            raise WizardDeadlineError(
                f"the wizard run did not finish within {budget} seconds; last transient "
                f"failure: {describe_cause(self.last_error)}",
                last_error=self.last_error,
            )
        self.slept += seconds
        if seconds > 0:
            await self.sleep(seconds)

    async def _backoff(self, attempt: int) -> None:
        await self._wait(full_jitter(attempt, self.rng))

    async def _settle(self, attempt: int) -> None:
        """Let an ambiguous submit land before reading the wizard (grows per attempt)."""
        await self._wait(settle_delay(attempt, self.rng, initial=self.r.settle_delay))

    async def _retry_call(
        self,
        action: str,
        number: int,
        type_id: int | None,
        call: Callable[[], Awaitable[T]],
    ) -> T:
        """``call()`` (idempotent) retried on transient failures with capped exponential
        backoff and full jitter, for as long as the run's deadline allows."""
        attempt = 1
        while True:
            try:
                result = await call()
            except Exception as exc:
                if not is_transient(exc) or (
                    not self.contacted and isinstance(exc, APIConnectError)
                ):
                    raise
                self.last_error = exc
                delay = full_jitter(attempt, self.rng)
                if isinstance(exc, RateLimitError) and exc.retry_after:
                    delay = max(delay, min(exc.retry_after, _MAX_HONOURED_RETRY_AFTER))
                attempt += 1
                await self._retrying(number, action, type_id, attempt, exc)
                await self._wait(delay)
            else:
                self.contacted = True
                return result

    async def _retrying(
        self,
        number: int,
        action: str,
        type_id: int | None,
        attempt: int,
        exc: BaseException | None,
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
                reason=type(cause or exc).__name__ if exc is not None else "unknown",
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
