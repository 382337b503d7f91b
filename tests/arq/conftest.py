"""Fixtures of the arq tests: a real redis-server on a free loopback port, and helpers to run
the sandbox and arq workers as separate processes."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio
import redis
import redis.asyncio

_HERE = str(Path(__file__).parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)  # tests run with importlib mode: makes ``arqkit`` importable

from arqkit import ASSETS, free_port, read_line, stop_process  # noqa: E402


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A redis-server of our own on 127.0.0.1 (no persistence), killed at teardown."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail(
            "redis-server is not on PATH: install it (Debian: apt-get install redis-server)"
        )
    port = free_port()
    workdir = tmp_path_factory.mktemp("redis")
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        cwd=workdir,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        probe = redis.Redis(host="127.0.0.1", port=port, socket_timeout=1)
        deadline = time.monotonic() + 10
        while True:
            try:
                if probe.ping():
                    break
            except redis.ConnectionError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"redis-server did not answer PING on port {port}")
            time.sleep(0.05)
        probe.close()
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        stop_process(proc)


@pytest_asyncio.fixture
async def redis_client(redis_url: str) -> AsyncIterator[redis.asyncio.Redis]:
    """A client of the test's redis-server, emptied before the test."""
    client = redis.asyncio.Redis.from_url(redis_url)
    await client.flushall()
    try:
        yield client
    finally:
        await client.aclose()


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
