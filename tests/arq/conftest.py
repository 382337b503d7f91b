"""Fixtures of the arq tests: a real redis-server on a free loopback port (``redis_fixtures``),
and helpers to run the sandbox and arq workers as separate processes."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from arqkit import ASSETS, read_line, stop_process
from redis_fixtures import redis_client, redis_url

__all__ = ["redis_client", "redis_url"]  # fixtures, found by pytest under these names


@pytest.fixture
def docs_dir(tmp_path: Path) -> Path:
    root = tmp_path / "docs"
    root.mkdir()
    for name in ("passport.jpg", "selfie.jpg", "proof_of_address.pdf"):
        shutil.copy(ASSETS / name, root / name)
    return root


@pytest.fixture
def sandbox_process() -> Iterator[str]:
    """The sandbox served by a separate process (``python -m kycflow.testing``); its root URL."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "kycflow.testing", "--port", "0", "--no-throttle"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    try:
        line = read_line(proc, 15)
        assert "listening on " in line, line
        base_url = line.split("listening on ", 1)[1].strip()
        yield base_url.removesuffix("/api")
    finally:
        stop_process(proc)
