"""The pure flow-control logic (retry budget, pause and rate gates) and the local coordinator,
on a fake clock: no HTTP, no real sleeping."""

from __future__ import annotations

import pytest

from kycflow._http.coordination import LocalCoordinator, RequestCoordinator
from kycflow._http.flow_control import PauseGate, RateGate, RetryBudget
from kycflow.errors import ConfigurationError


def test_retries_draw_from_the_budget_until_it_is_empty() -> None:
    budget = RetryBudget(capacity=20, retry_cost=5, timeout_cost=10)
    assert [budget.draw() for _ in range(5)] == [5, 5, 5, 5, None]
    assert budget.retries == 4
    assert budget.denied == 1
    assert budget.tokens == 0


def test_a_timeout_costs_more_than_another_retry() -> None:
    budget = RetryBudget(capacity=15, retry_cost=5, timeout_cost=10)
    assert budget.draw(timeout=True) == 10
    assert budget.draw(timeout=True) is None  # 5 left: not enough for a timeout...
    assert budget.draw() == 5  # ...but enough for a retry after a 5xx


def test_successes_refill_and_a_retried_success_refunds_its_retry() -> None:
    budget = RetryBudget(capacity=10, retry_cost=5, success_refill=1)
    budget.draw()
    budget.draw()
    assert budget.draw() is None
    budget.succeeded(refund=5)  # succeeded after a retry: its cost back
    assert budget.tokens == 5
    for _ in range(20):
        budget.succeeded()  # +1 each, capped at capacity
    assert budget.tokens == 10


def test_a_disabled_budget_never_refuses() -> None:
    budget = RetryBudget(capacity=None)
    assert all(budget.draw() == 5 for _ in range(10_000))
    budget.succeeded()


def test_retry_ratio_counts_retries_per_first_attempt() -> None:
    budget = RetryBudget(capacity=10)
    for _ in range(4):
        budget.started()
    budget.draw()
    budget.draw()
    budget.draw()
    assert budget.retry_ratio == 0.5
    with pytest.raises(ValueError, match="capacity"):
        RetryBudget(capacity=-1)


def test_a_pause_holds_its_host_only_and_is_never_shortened() -> None:
    gate = PauseGate()
    assert gate.pause("a", 2.0, now=10.0) == 12.0
    assert gate.pause("a", 0.5, now=11.0) == 12.0  # an earlier end does not shorten it
    assert gate.remaining("a", now=11.0) == 1.0
    assert gate.remaining("b", now=11.0) == 0.0
    assert gate.pause("a", 5.0, now=11.0) == 16.0  # a later one extends it
    assert gate.remaining("a", now=16.0) == 0.0


def test_the_rate_gate_spaces_requests_in_arrival_order() -> None:
    gate = RateGate(rate=10, burst=2)
    waits = [gate.reserve("h", now=0.0) for _ in range(5)]
    assert waits == pytest.approx([0.0, 0.0, 0.1, 0.2, 0.3])
    assert gate.reserve("other", now=0.0) == 0.0
    # One second later the bucket has refilled past its debt.
    assert gate.reserve("h", now=1.0) == 0.0
    with pytest.raises(ValueError, match="rate"):
        RateGate(rate=0)


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


async def test_the_local_coordinator_waits_out_a_pause_then_the_rate() -> None:
    clock = FakeClock()
    coordinator = LocalCoordinator(rate=4, clock=clock, sleep=clock.sleep)
    assert isinstance(coordinator, RequestCoordinator)
    await coordinator.pause("h", 3.0)
    await coordinator.acquire("h")
    assert clock.now == 3.0
    assert coordinator.paused_waits == 1
    await coordinator.acquire("h")
    assert clock.now == pytest.approx(3.25)  # the rate: one request every 0.25 s
    await coordinator.acquire("other")  # another host is neither paused nor limited
    assert clock.now == pytest.approx(3.25)


async def test_a_wait_longer_than_max_wait_fails_at_once() -> None:
    clock = FakeClock()
    coordinator = LocalCoordinator(clock=clock, sleep=clock.sleep)
    await coordinator.pause("h", 10.0)
    with pytest.raises(TimeoutError):
        await coordinator.acquire("h", max_wait=2.0)
    assert clock.slept == []  # it did not wait in vain
    await coordinator.acquire("h", max_wait=20.0)
    assert clock.now == 10.0


def test_bad_coordinator_settings_are_refused() -> None:
    with pytest.raises(ConfigurationError):
        LocalCoordinator(rate=0)
