"""Shared by the CLI tests (importable as ``clikit``: the tests run in importlib mode)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ASSETS = Path(__file__).resolve().parents[2] / "src" / "kycflow" / "assets"


@dataclass
class Outcome:
    """What one ``kycflow`` invocation did."""

    code: int
    out: str
    err: str

    @property
    def both(self) -> str:
        return self.out + self.err


CLI = Callable[..., Outcome]
