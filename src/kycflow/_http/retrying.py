"""A failed first attempt's retries, on tenacity: its strategies built from the pure policy.

The first attempt of a call runs outside tenacity (most calls succeed at once, and a fresh
``AsyncRetrying`` costs more CPU than a request on a fast network). When it fails in a way the
policy retries, ``Retrier.retry`` decides the first pause with the same rules tenacity's
strategies apply afterwards, then runs attempts 2.. in a fresh ``AsyncRetrying``.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Awaitable, Callable

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_after_attempt,
    stop_before_delay,
)
from tenacity.stop import stop_base
from tenacity.wait import wait_base

from .. import _telemetry as telemetry
from .._logging import get_logger
from .context import Call, Response
from .failures import RetrySignal
from .options import TransportOptions
from .retry import Failure, backoff

__all__ = ["Attempt", "Retrier"]

Attempt = Callable[[Call, int], Awaitable[Response]]
"""Makes attempt number n (from 1) of a call."""


def _signal(state: RetryCallState) -> RetrySignal:
    exc = state.outcome.exception() if state.outcome is not None else None
    assert isinstance(exc, RetrySignal)  # retry_if_exception_type(RetrySignal) let it through
    return exc


class _Rules:
    """One retried call's rules; ``drawn`` is the retry cost last drawn from the budget."""

    __slots__ = ("call", "drawn", "options")

    def __init__(self, options: TransportOptions, call: Call) -> None:
        self.options = options
        self.call = call
        self.drawn: int | None = None

    def delay(self, signal: RetrySignal, failed_attempt: int) -> float:
        """The pause after ``failed_attempt``: the server's Retry-After (capped) or backoff."""
        options = self.options
        if signal.retry_after is not None:
            return min(signal.retry_after, options.max_retry_after)
        return backoff(
            failed_attempt,
            options.rng,
            initial=options.initial_backoff,
            maximum=options.max_backoff,
        )

    def out_of_budget(self, signal: RetrySignal) -> bool:
        """Draw the next retry's cost from the client-wide budget; True when it is spent."""
        timeout = signal.reason == Failure.TIMEOUT.value
        self.drawn = self.options.retry_budget.draw(timeout=timeout)
        if self.drawn is None:
            call = self.call
            get_logger().warning(
                "http.retry_budget_exhausted", method=call.method, path=call.template
            )
            return True
        return False

    def log(self, signal: RetrySignal, failed_attempt: int, delay: float) -> None:
        telemetry.record_retry("http", signal.reason)
        get_logger().info(
            "http.retry",
            method=self.call.method,
            path=self.call.template,
            attempt=failed_attempt,
            delay=round(delay, 3),
            reason=signal.reason,
        )


class _Wait(wait_base):
    def __init__(self, rules: _Rules) -> None:
        self._rules = rules

    def __call__(self, retry_state: RetryCallState) -> float:
        # Tenacity counts from the call's second attempt.
        return self._rules.delay(_signal(retry_state), retry_state.attempt_number + 1)


class _StopOutOfBudget(stop_base):
    def __init__(self, rules: _Rules) -> None:
        self._rules = rules

    def __call__(self, retry_state: RetryCallState) -> bool:
        return self._rules.out_of_budget(_signal(retry_state))


class Retrier:
    """Retries of a transport's calls (its backoff, caps, sleep and budget)."""

    __slots__ = ("options", "sleep")

    def __init__(self, options: TransportOptions) -> None:
        self.options = options
        self.sleep = options.sleep

    async def retry(self, call: Call, first: RetrySignal, attempt: Attempt) -> Response:
        """Attempts 2.. of ``call`` after ``first`` failed; raises the last error if none
        succeeds (attempts, deadline or budget spent)."""
        rules = _Rules(self.options, call)
        pause = rules.delay(first, 1)
        remaining = None if call.deadline_at is None else call.deadline_at - time.monotonic()
        if (
            call.max_retries < 1
            or (remaining is not None and pause >= remaining)
            or rules.out_of_budget(first)
        ):
            raise first.error from first.error.__cause__
        rules.log(first, 1, pause)
        await self.sleep(pause)
        stop: stop_base = stop_after_attempt(call.max_retries)
        if remaining is not None:
            stop = stop | stop_before_delay(max(remaining - pause, 0.0))
        stop = stop | _StopOutOfBudget(rules)  # last: drawn only when nothing else stops
        retrying = AsyncRetrying(
            stop=stop,
            wait=_Wait(rules),
            retry=retry_if_exception_type(RetrySignal),
            before_sleep=lambda state: rules.log(
                _signal(state), state.attempt_number + 1, state.upcoming_sleep
            ),
            reraise=True,
            sleep=self.sleep,
        )
        numbers = itertools.count(2)  # attempt 1 was made before any retry

        async def again() -> Response:
            response = await attempt(call, next(numbers))
            self.options.retry_budget.succeeded(rules.drawn)
            return response

        try:
            return await retrying(again)
        except RetrySignal as exc:
            raise exc.error from exc.error.__cause__
