"""Soak at DEFAULT settings: wizard flows over one client while the sandbox injects faults of
every kind on every route, those after which the server did commit included (503/429/500 after
committing, resets after committing, late commits), against a server that refuses repeats with
409 and one that accepts them (so a resend is counted as a duplicate, not hidden by a 409)."""

from __future__ import annotations

import dataclasses
from types import ModuleType

import pytest

from kycflow.testing import FaultKind

FLOWS = 100

SCENARIOS = [
    pytest.param(0.2, False, id="20%-refuses-repeats"),
    pytest.param(0.3, False, id="30%-refuses-repeats"),
    pytest.param(0.3, True, id="30%-accepts-repeats"),
]


@pytest.mark.timeout(120)
@pytest.mark.parametrize(("rate", "accept_repeats"), SCENARIOS)
async def test_soak_at_defaults_every_flow_completes_exactly_once(
    soak: ModuleType, rate: float, accept_repeats: bool
) -> None:
    report = await soak.run_soak(
        FLOWS, rate, seed=11, concurrency=FLOWS, accept_repeats=accept_repeats
    )
    print("\n" + report.table())
    assert report.settings["client"] == report.settings["runner"] == "defaults"
    # The faults really happened, of every kind, at about the configured rate.
    for kind in FaultKind:
        assert report.faults[kind.value] > 0, kind
    assert rate * 0.6 < sum(report.faults.values()) / report.requests < rate * 1.4
    assert report.failed == []
    assert report.completed == FLOWS
    # The default scenario has three steps: each committed once, in order, none skipped.
    assert report.submissions == 3 * FLOWS
    assert report.duplicates == 0
    assert report.problems == []
    assert report.reconciled_steps > 0


async def test_soak_report_fails_on_a_broken_budget(soak: ModuleType) -> None:
    # Inside a run the deadline is the retry budget, so even no client retries at all complete
    # every flow; the report must still fail when a flow does not.
    report = await soak.run_soak(
        40,
        0.2,
        seed=11,
        client_options={"max_retries": 0},
        runner_options={"max_submit_attempts": 1},
    )
    assert report.ok
    assert report.duplicates == 0
    broken = dataclasses.replace(report, completed=39, failed=["u: WizardDeadlineError"])
    assert not broken.ok
