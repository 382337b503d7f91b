"""Fixtures of the CLI tests: a sandbox served from a thread, and ``main`` run in-process."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from clikit import CLI, Outcome

from kycflow.cli import main
from kycflow.testing import Sandbox, run_in_thread


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
