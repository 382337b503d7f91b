"""Fixtures of the batch tests: an in-process sandbox and a directory of sample documents."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

import kycflow
from kycflow.testing import Sandbox

ASSETS = Path(kycflow.__file__).parent / "assets"


@pytest.fixture
def docs_dir(tmp_path: Path) -> Path:
    """Passport, selfie and proof of address: everything the default scenario asks for."""
    root = tmp_path / "docs"
    root.mkdir()
    for name in ("passport.jpg", "selfie.jpg", "proof_of_address.pdf"):
        shutil.copy(ASSETS / name, root / name)
    return root


@pytest_asyncio.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    async with Sandbox(throttle_signin=False) as sb:
        yield sb


@pytest_asyncio.fixture
async def client(sandbox: Sandbox) -> AsyncIterator[kycflow.Client]:
    async with kycflow.Client(sandbox.base_url, max_retries=0) as c:
        yield c
