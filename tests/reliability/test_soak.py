"""Soak: a few hundred wizard flows over one client while the sandbox injects 20 % faults."""

from __future__ import annotations

import dataclasses
from types import ModuleType

import pytest

from kycflow.testing import FaultKind

FLOWS = 300


@pytest.mark.timeout(90)
async def test_soak_every_flow_completes_exactly_once(soak: ModuleType) -> None:
    report = await soak.run_soak(FLOWS, 0.2, seed=11, concurrency=60)
    print("\n" + report.table())
    assert report.failed == []
    assert report.completed == FLOWS
    # The default scenario has three steps: each committed once, in order, none skipped.
    assert report.submissions == 3 * FLOWS
    assert report.duplicates == 0
    assert report.problems == []
    # The faults really happened, of every kind, at about the configured rate.
    for kind in FaultKind:
        assert report.faults[kind.value] > 0, kind
    assert 0.12 < sum(report.faults.values()) / report.requests < 0.28
    assert report.client_retries > 0
    assert report.runner_retries > 0
    assert report.reconciled_steps > 0
    assert report.wall_time < 60


async def test_soak_report_fails_on_a_broken_budget(soak: ModuleType) -> None:
    # Inside a run the deadline is the retry budget, so even no client retries at all complete
    # every flow; the report must still fail when a flow does not.
    report = await soak.run_soak(40, 0.2, seed=11, max_retries=0, max_submit_attempts=1)
    assert report.ok
    assert report.duplicates == 0
    broken = dataclasses.replace(report, completed=39, failed=["u: WizardDeadlineError"])
    assert not broken.ok
