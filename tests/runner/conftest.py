"""Makes the runner's fakes importable as ``runner_fakes`` (tests run with importlib mode),
and gives every runner of these tests a fake clock."""

import sys
from pathlib import Path

import pytest

import kycflow.wizard.state

_HERE = str(Path(__file__).parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

from runner_fakes import FakeClock  # noqa: E402


@pytest.fixture(autouse=True)
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    """Runners built without ``sleep=`` wait on this fake clock: settle delays and backoffs are
    recorded, never slept."""
    fake = FakeClock()
    monkeypatch.setattr(kycflow.wizard.state, "default_sleep", fake.sleep)
    return fake
