"""Makes the runner's fakes importable as ``runner_fakes`` (tests run with importlib mode),
and gives every runner of these tests a fake clock."""

import pytest
from runner_fakes import FakeClock

import kycflow.wizard.state


@pytest.fixture(autouse=True)
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    """Runners built without ``sleep=`` wait on this fake clock: settle delays and backoffs are
    recorded, never slept."""
    fake = FakeClock()
    monkeypatch.setattr(kycflow.wizard.state, "default_sleep", fake.sleep)
    return fake
