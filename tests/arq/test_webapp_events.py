"""The web app example with ``redis_url``: a run driven by one process of the app is seen by
another, through the Redis stream (its status view, and its server-sent events resumed after
``Last-Event-ID``)."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import re
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from types import ModuleType
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from kycflow.testing import Sandbox

pytestmark = [pytest.mark.redis, pytest.mark.timeout(60)]

ROOT = Path(__file__).resolve().parents[2]
ASSETS = ROOT / "src" / "kycflow" / "assets"
SAMPLES = {"2": "passport.jpg", "3": "selfie.jpg", "4": "proof_of_address.pdf"}


def _webapp() -> ModuleType:
    name = "kycflow_example_webapp"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, ROOT / "examples" / "webapp.py")
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


async def _serve(app: web.Application) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}"


@pytest.fixture
async def two_processes(
    redis_url: str, redis_client: Any, kycflow_sandbox: Sandbox
) -> AsyncIterator[tuple[str, str]]:
    """Two instances of the app (as two processes would be) sharing one Redis."""
    user = kycflow_sandbox.create_user("carol@sandbox.test")
    webapp = _webapp()
    runners = []
    urls = []
    for _ in range(2):
        app = webapp.create_app(
            kycflow_sandbox.base_url, lambda uid: user.access_token, redis_url=redis_url
        )
        runner, url = await _serve(app)
        runners.append(runner)
        urls.append(url)
    try:
        yield urls[0], urls[1]
    finally:
        for runner in runners:
            await runner.cleanup()


async def _round(http: aiohttp.ClientSession, app: str) -> None:
    async with http.get(f"{app}/kyc/carol") as resp:
        chosen = re.findall(r"data-type-id='(\d+)'", await resp.text())[0]
    form = aiohttp.FormData()
    form.add_field(
        f"type-{chosen}", (ASSETS / SAMPLES[chosen]).read_bytes(), filename=SAMPLES[chosen]
    )
    async with http.post(f"{app}/kyc/carol/documents", data=form) as resp:
        assert resp.status == 200


async def _settled(
    http: aiohttp.ClientSession, url: str, want: str, submitted: int = 3
) -> dict[str, Any]:
    """The status once it is ``want`` with ``submitted`` steps committed (so a state left
    by the round before is not taken for this round's)."""
    for _ in range(200):
        async with http.get(url) as resp:
            status: dict[str, Any] = await resp.json()
        done = sum(1 for e in status["events"] if e["event"] == "wizard.step_submitted")
        if status["state"] == want and done == submitted:
            return status
        await asyncio.sleep(0.05)
    raise AssertionError(f"never {want}: {status}")


async def _sse(http: aiohttp.ClientSession, url: str, last_id: str | None) -> list[tuple[str, Any]]:
    headers = {} if last_id is None else {"Last-Event-ID": last_id}
    out: list[tuple[str, Any]] = []
    async with http.get(url, headers=headers) as resp:
        assert resp.headers["Content-Type"].startswith("text/event-stream")
        text = await resp.text()
    for block in text.strip().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines())
        out.append((fields["id"], json.loads(fields["data"])))
    return out


async def test_another_process_sees_the_run(two_processes: tuple[str, str]) -> None:
    runs_here, watches = two_processes
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http:
        for round_number in range(1, 4):
            await _round(http, runs_here)
            want = "complete" if round_number == 3 else "needs_documents"
            await _settled(http, f"{runs_here}/kyc/carol/status", want, round_number)
            # The other process never ran anything for carol, yet it knows.
            seen = await _settled(http, f"{watches}/kyc/carol/status", want, round_number)
            assert seen["events"][-1]["event"] in ("wizard.failed", "wizard.completed")
        here = await _settled(http, f"{runs_here}/kyc/carol/status", "complete")
        there = await _settled(http, f"{watches}/kyc/carol/status", "complete")
        assert there["events"] == here["events"]
        assert [e["step"] for e in there["events"] if e["event"] == "wizard.step_submitted"] == [
            1,
            2,
            3,
        ]

        events = await _sse(http, f"{watches}/kyc/carol/events", None)
        assert [data for _, data in events] == here["events"]
        resumed = await _sse(http, f"{watches}/kyc/carol/events", events[3][0])
        assert resumed == events[4:]
