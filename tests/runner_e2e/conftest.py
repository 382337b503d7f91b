"""Fixtures of the runner's end-to-end tests; helpers live in ``e2ekit`` (importable here)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from e2ekit import ASSETS, READINGS, Reading, copy_assets
from fakeclock import FakeClock

import kycflow.wizard.state
from kycflow.testing import Sandbox, Scenario


@pytest.fixture(autouse=True)
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    """Runners built without ``sleep=`` wait on this fake clock (the transport's own short
    retry waits stay real)."""
    fake = FakeClock()
    monkeypatch.setattr(kycflow.wizard.state, "default_sleep", fake.sleep)
    return fake


@pytest.fixture(autouse=True, params=READINGS, ids=[r.name for r in READINGS])
def reading(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Reading:
    """Every end-to-end test of the runner runs under every reading of the wizard envelope:
    each ``Sandbox`` built in the test speaks it (its scenario's other quirks kept). A module
    testing one reading on purpose overrides this fixture."""
    chosen: Reading = request.param
    original = Sandbox.__init__

    def speaking(self: Sandbox, scenario: Scenario | None = None, **kwargs: Any) -> None:
        original(self, chosen.apply(scenario or Scenario.default()), **kwargs)

    monkeypatch.setattr(Sandbox, "__init__", speaking)
    return chosen


@pytest.fixture
def docs_dir(tmp_path: Path) -> Path:
    """A folder holding the sample documents (passport, id card, selfie, proof of address)."""
    return copy_assets(tmp_path / "docs", ASSETS)


@pytest.fixture
async def sb() -> AsyncIterator[Sandbox]:
    """The default scenario on 127.0.0.1, no faults."""
    async with Sandbox() as sandbox:
        yield sandbox
