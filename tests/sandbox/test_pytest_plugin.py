"""The pytest plugin, run in a child pytest on a generated test file."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from kycflow.testing import Sandbox

ASYNC_TESTS = """
import aiohttp
import pytest
from kycflow.testing import DocType, Faults, LevelSpec, Scenario, Step

ONE_STEP = Scenario(levels=(LevelSpec(1, "L0"), LevelSpec(2, "L1")), initial_level=1,
                    steps=(Step(types=(DocType(9, "Visa"),)),))

@pytest.mark.asyncio
async def test_default(kycflow_sandbox):
    user = kycflow_sandbox.create_user()
    async with aiohttp.ClientSession() as http:
        async with http.get(kycflow_sandbox.url("/v2/my/verifications/wizard"),
                            headers={"Authorization": "Bearer " + user.access_token}) as r:
            body = await r.json()
    assert [t["id"] for t in body["data"]["types"]] == [2, 1]

@pytest.mark.asyncio
@pytest.mark.kycflow_scenario(ONE_STEP, faults=Faults().fail_next("wizard", "5xx"))
async def test_marker(kycflow_sandbox):
    user = kycflow_sandbox.create_user()
    async with aiohttp.ClientSession() as http:
        url = kycflow_sandbox.url("/v2/my/verifications/wizard")
        headers = {"Authorization": "Bearer " + user.access_token}
        async with http.get(url, headers=headers) as r:
            assert r.status == 500
        async with http.get(url, headers=headers) as r:
            assert [t["id"] for t in (await r.json())["data"]["types"]] == [9]

@pytest.mark.asyncio
async def test_factory(kycflow_sandbox_factory):
    a = await kycflow_sandbox_factory(ONE_STEP)
    b = await kycflow_sandbox_factory(access_token_ttl=5)
    assert a.port != b.port
    assert a.scenario is ONE_STEP
"""

SYNC_TESTS = """
import asyncio
import aiohttp
import pytest
from kycflow.testing import Scenario

async def fetch(url, token):
    async with aiohttp.ClientSession() as http:
        async with http.get(url, headers={"Authorization": "Bearer " + token}) as r:
            return r.status, await r.json()

def test_threaded(kycflow_sandbox):
    user = kycflow_sandbox.create_user()
    status, body = asyncio.run(fetch(kycflow_sandbox.url("/v2/my/verifications"),
                                     user.access_token))
    assert (status, body["total"]) == (200, 1)

def test_threaded_factory(kycflow_sandbox_factory):
    sb = kycflow_sandbox_factory(Scenario.default().to_dict())
    user = sb.create_user()
    assert asyncio.run(fetch(sb.url("/v2/my/verifications"), user.access_token))[0] == 200
"""


def _run(tmp_path: Path, source: str, *args: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "test_generated.py").write_text(source)
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            *args,
            str(tmp_path / "test_generated.py"),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("mode", ["strict", "auto"])
def test_async_fixtures_under_pytest_asyncio(tmp_path: Path, mode: str) -> None:
    result = _run(tmp_path, ASYNC_TESTS, "-o", f"asyncio_mode={mode}")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 passed" in result.stdout


def test_threaded_fixtures_without_pytest_asyncio(tmp_path: Path) -> None:
    result = _run(tmp_path, SYNC_TESTS, "-p", "no:asyncio")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout


@pytest.mark.parametrize("mode", ["strict", "auto"])
def test_sync_tests_get_a_threaded_sandbox_under_pytest_asyncio(tmp_path: Path, mode: str) -> None:
    # A sync test's sandbox on pytest-asyncio's (idle) loop accepted connections and never
    # answered: the test hung until pytest-timeout. Both fixtures, and both flavours in one file.
    source = (
        SYNC_TESTS
        + """
from kycflow.testing import Faults

@pytest.mark.kycflow_scenario(faults=Faults().fail_next("history", "5xx"))
def test_threaded_marker(kycflow_sandbox):
    user = kycflow_sandbox.create_user()
    url = kycflow_sandbox.url("/v2/my/verifications")
    assert asyncio.run(fetch(url, user.access_token))[0] == 500

@pytest.mark.asyncio
async def test_on_loop(kycflow_sandbox, kycflow_sandbox_factory):
    other = await kycflow_sandbox_factory()
    assert other.port != kycflow_sandbox.port
    assert (await fetch(kycflow_sandbox.url("/v2/my/verifications"),
                        kycflow_sandbox.create_user().access_token))[0] == 200
"""
    )
    result = _run(tmp_path, source, "-o", f"asyncio_mode={mode}", "-o", "timeout=20")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "4 passed" in result.stdout
    assert "Timeout" not in result.stdout


def test_marker_is_registered(tmp_path: Path) -> None:
    result = _run(tmp_path, "def test_nothing():\n    pass\n", "--markers")
    assert "kycflow_scenario" in result.stdout


async def test_plugin_fixture_in_this_run(kycflow_sandbox: Sandbox) -> None:
    assert kycflow_sandbox.base_url.startswith("http://127.0.0.1:")
    assert kycflow_sandbox.base_url.endswith("/api")
