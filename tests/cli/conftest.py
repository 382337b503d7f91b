"""Fixtures of the CLI tests: a sandbox served from a thread, and ``main`` run in-process."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

_HERE = str(Path(__file__).parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

from clikit import CLI, Outcome  # noqa: E402

from kycflow.cli import main  # noqa: E402
from kycflow.testing import Sandbox, run_in_thread  # noqa: E402


@pytest.fixture(autouse=True)
def _isolate(monkeypatch: pytest.MonkeyPatch) -> None:
    # main() configures structlog globally; tests/conftest.py restores it afterwards.
    for name in list(os.environ):
        if name.startswith("KYCFLOW_"):
            monkeypatch.delenv(name)


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    """A sandbox serving from a background thread, so ``main`` can run in the test thread."""
    with run_in_thread(Sandbox()) as sb:
        yield sb


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> CLI:
    """``cli(*args)`` runs ``kycflow`` in-process and returns an ``Outcome``."""

    def run(*args: str) -> Outcome:
        capsys.readouterr()
        code = main(list(args))
        captured = capsys.readouterr()
        return Outcome(code, captured.out, captured.err)

    return run
