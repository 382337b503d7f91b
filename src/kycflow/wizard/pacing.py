"""A run's waits and retries: backoff, settle delays and the deadline budget they share."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from contextlib import AbstractContextManager
from typing import Any, TypeVar

from .. import _telemetry as telemetry
from .._callbacks import timer_context
from .._constants import DEFAULT_RUN_DEADLINE
from ..errors import APIConnectError, RateLimitError, WizardDeadlineError
from . import state as _state
from .events import Retrying
from .options import RunnerOptions
from .reporting import Reporter
from .retrying import full_jitter, is_transient, settle_delay
from .state import RunState, describe_cause

__all__ = ["Pacer", "RunDeadline", "deadline_error"]

T = TypeVar("T")
# Without a run deadline, one failing call is retried for at most this long.
_UNBOUNDED_RUN_BUDGET = DEFAULT_RUN_DEADLINE or 600.0
_MAX_HONOURED_RETRY_AFTER = 60.0
# One generator for the runs of runners built without ``rng=``: a ``random.Random`` holds
# 2.5 KiB of state, too much to make per run.
_SHARED_RNG = random.Random()


def deadline_error(seconds: float | None, last_error: BaseException | None) -> WizardDeadlineError:
    """The error of a run that did not finish within ``seconds``, naming its last failure."""
    return WizardDeadlineError(
        f"the wizard run did not finish within {seconds} seconds; "
        f"last transient failure: {describe_cause(last_error)}",
        last_error=last_error,
    )


class Pacer:
    """Waits and retries for one run, counted against its deadline."""

    __slots__ = ("_budget", "_reporter", "_settle_initial", "_sleep", "_state", "rng")

    def __init__(self, state: RunState, options: RunnerOptions, reporter: Reporter) -> None:
        self._state = state
        self._reporter = reporter
        self._budget = options.deadline if options.deadline is not None else _UNBOUNDED_RUN_BUDGET
        self._settle_initial = options.settle_delay
        self._sleep = options.sleep or _state.default_sleep
        self.rng = options.rng or _SHARED_RNG

    async def wait(self, seconds: float) -> None:
        """Sleep ``seconds``, or raise ``WizardDeadlineError`` if that passes the budget."""
        state = self._state
        if state.slept + seconds > self._budget:
            # Counted in the waits themselves, so that a fake clock meets the deadline too.
            raise deadline_error(self._budget, state.last_error)
        state.slept += seconds
        if seconds > 0:
            await self._sleep(seconds)

    async def backoff(self, attempt: int) -> None:
        """Wait before retry ``attempt`` (capped exponential backoff, full jitter)."""
        await self.wait(full_jitter(attempt, self.rng))

    async def settle(self, attempt: int) -> None:
        """Let an ambiguous submit land before reading the wizard (grows per attempt)."""
        await self.wait(settle_delay(attempt, self.rng, initial=self._settle_initial))

    async def retry_call(
        self,
        action: str,
        number: int,
        type_id: int | None,
        call: Callable[..., Awaitable[T]],
        *args: Any,
        around: AbstractContextManager[Any] | None = None,
    ) -> T:
        """``call(*args)`` (idempotent) retried on transient failures with capped exponential
        backoff and full jitter, for as long as the run's deadline allows; each attempt inside
        ``around`` when given (a span handle entered again per attempt: in this frame, not in
        a wrapper's of its own)."""
        state = self._state
        attempt = 1
        while True:
            try:
                if around is None:
                    result = await call(*args)
                else:
                    with around:
                        result = await call(*args)
            except Exception as exc:
                if not is_transient(exc) or (
                    not state.contacted and isinstance(exc, APIConnectError)
                ):
                    raise
                state.last_error = exc
                delay = full_jitter(attempt, self.rng)
                if isinstance(exc, RateLimitError) and exc.retry_after:
                    delay = max(delay, min(exc.retry_after, _MAX_HONOURED_RETRY_AFTER))
                attempt += 1
                await self.retrying(number, action, type_id, attempt, exc)
                await self.wait(delay)
            else:
                state.contacted = True
                return result

    async def retrying(
        self,
        number: int,
        action: str,
        type_id: int | None,
        attempt: int,
        exc: BaseException | None,
    ) -> None:
        """Count a retry of ``action``; report it."""
        self._state.retries += 1
        cause = getattr(exc, "cause", None)
        telemetry.record_retry(action, type(cause or exc).__name__)
        await self._reporter.emit(
            Retrying(
                run_id=self._state.run_id,
                step=number,
                action=action,
                type_id=type_id,
                attempt=attempt,
                reason=type(cause or exc).__name__ if exc is not None else "unknown",
            )
        )


class RunDeadline:
    """``asyncio.timeout`` for the current task, as one slotted object and a bare timer (each of
    thousands of waiting runs holds them): started when made, ``stop``-ped once at the end."""

    __slots__ = ("_cancelling", "_taken_back", "_task", "_timer", "expired")

    def __init__(self, seconds: float | None) -> None:
        task = asyncio.current_task()
        if task is None:
            raise RuntimeError("RunDeadline needs a running task")
        self._task = task
        self._cancelling = task.cancelling()
        self.expired = False
        self._taken_back = False
        loop = asyncio.get_running_loop()
        self._timer = (
            None
            if seconds is None
            else loop.call_later(seconds, self._expire, context=timer_context())
        )

    def _expire(self) -> None:
        self._timer = None
        self.expired = True
        self._task.cancel()

    def stop(self) -> bool:
        """Stop the timer. True when it had expired and the task's cancellation is its own
        alone (as ``asyncio.timeout`` decides whether to raise ``TimeoutError``)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not self.expired or self._taken_back:
            return False
        self._taken_back = True  # the cancel it made is taken back once
        return self._task.uncancel() <= self._cancelling
