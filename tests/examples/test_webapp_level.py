"""The web app example shows the level arriving live after the wizard (the sandbox's review)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from types import ModuleType
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from kycflow.testing import Review, Sandbox, Scenario

ASSETS = Path(__file__).resolve().parents[2] / "src" / "kycflow" / "assets"
SAMPLES = {"2": "passport.jpg", "3": "selfie.jpg", "4": "proof_of_address.pdf"}
_BASE = Scenario.default()
DELAYED = Scenario(
    levels=_BASE.levels, steps=_BASE.steps, initial_level=1, review=Review(delay=1.0)
)


@pytest.fixture
async def app_url(webapp: ModuleType, kycflow_sandbox: Sandbox) -> AsyncIterator[str]:
    user = kycflow_sandbox.create_user("carol@sandbox.test")
    webapp.WATCH_POLL = webapp.kycflow.PollPolicy(initial=0.1, factor=1.5, maximum=0.3)
    app = webapp.create_app(kycflow_sandbox.base_url, lambda uid: user.access_token)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


async def _status(http: aiohttp.ClientSession, url: str) -> dict[str, Any]:
    async with http.get(url) as resp:
        data: dict[str, Any] = await resp.json()
    return data


@pytest.mark.kycflow_scenario(DELAYED)
async def test_the_level_arrives_after_the_wizard(app_url: str, kycflow_sandbox: Sandbox) -> None:
    status_url = f"{app_url}/kyc/carol/status"
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http:
        form = aiohttp.FormData()
        for type_id, name in SAMPLES.items():
            form.add_field(f"type-{type_id}", (ASSETS / name).read_bytes(), filename=name)
        async with http.post(f"{app_url}/kyc/carol/documents", data=form) as resp:
            assert resp.status == 200
            page = await resp.text()
        assert "id='level'" in page
        for _ in range(200):
            status = await _status(http, status_url)
            if status["state"] != "running":
                break
            await asyncio.sleep(0.02)
        assert status["state"] == "complete"
        assert status["level"] is None  # under review
        completed = time.monotonic()
        while status["level"] is None and time.monotonic() - completed < 10:
            await asyncio.sleep(0.05)
            status = await _status(http, status_url)
    assert status["level"] == "Level 1"
    grant = kycflow_sandbox.review_log("carol@sandbox.test")[0]
    assert grant.decision == "grant"
    assert kycflow_sandbox.level_of("carol@sandbox.test") == 2
