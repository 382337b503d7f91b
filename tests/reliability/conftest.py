"""Fixtures of the reliability tests (faults, hostile input, secrets, transport safety)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


def load_soak() -> ModuleType:
    """``benchmarks/soak.py`` as a module (the test and the script share one implementation)."""
    name = "kycflow_bench_soak"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / "soak.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def soak() -> ModuleType:
    return load_soak()
