"""The web app example over plain HTTP (no browser): the same flow the browser test drives."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from pathlib import Path
from types import ModuleType
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from kycflow.testing import Sandbox

ASSETS = Path(__file__).resolve().parents[2] / "src" / "kycflow" / "assets"
SAMPLES = {"2": "passport.jpg", "3": "selfie.jpg", "4": "proof_of_address.pdf"}


@pytest.fixture
async def app_url(webapp: ModuleType, kycflow_sandbox: Sandbox) -> AsyncIterator[str]:
    user = kycflow_sandbox.create_user("bob@sandbox.test")

    async def token_for_user(uid: str) -> str:  # an async lookup works too
        assert uid == "bob"
        return user.access_token

    runner = web.AppRunner(webapp.create_app(kycflow_sandbox.base_url, token_for_user))
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


async def wait_settled(http: aiohttp.ClientSession, url: str) -> dict[str, Any]:
    for _ in range(200):
        async with http.get(url) as resp:
            status: dict[str, Any] = await resp.json()
        if status["state"] != "running":
            return status
        await asyncio.sleep(0.05)
    raise AssertionError("the run did not settle")


async def test_form_rounds_complete_the_wizard(app_url: str, kycflow_sandbox: Sandbox) -> None:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http:
        for round_number in range(1, 4):
            async with http.get(f"{app_url}/kyc/bob") as resp:
                assert resp.status == 200
                page = await resp.text()
            type_ids = re.findall(r"data-type-id='(\d+)'", page)
            assert type_ids, page
            form = aiohttp.FormData()
            chosen = type_ids[0]
            form.add_field(
                f"type-{chosen}",
                (ASSETS / SAMPLES[chosen]).read_bytes(),
                filename=SAMPLES[chosen],
            )
            async with http.post(f"{app_url}/kyc/bob/documents", data=form) as resp:
                assert resp.status == 200
                assert resp.url.path == "/kyc/bob/progress"
            status = await wait_settled(http, f"{app_url}/kyc/bob/status")
            expected = "complete" if round_number == 3 else "needs_documents"
            assert status["state"] == expected, status
        async with http.get(f"{app_url}/kyc/bob") as resp:
            assert "Nothing left to verify" in await resp.text()

    assert [s.step for s in kycflow_sandbox.submissions("bob@sandbox.test")] == [0, 1, 2]
    kycflow_sandbox.assert_each_step_submitted_once()


async def test_empty_form_is_refused(app_url: str, kycflow_sandbox: Sandbox) -> None:
    async with aiohttp.ClientSession() as http:
        form = aiohttp.FormData()
        form.add_field("type-2", b"", filename="")
        async with http.post(f"{app_url}/kyc/bob/documents", data=form) as resp:
            assert resp.status == 400
    assert kycflow_sandbox.uploads() == []


async def test_a_bad_file_fails_without_a_submit(app_url: str, kycflow_sandbox: Sandbox) -> None:
    async with aiohttp.ClientSession() as http:
        form = aiohttp.FormData()
        form.add_field("type-2", b"not a jpeg at all", filename="passport.jpg")
        async with http.post(f"{app_url}/kyc/bob/documents", data=form) as resp:
            assert resp.status == 200
        status = await wait_settled(http, f"{app_url}/kyc/bob/status")
        assert status["state"] == "failed"
        assert "DocumentError" in status["message"]
        async with http.get(f"{app_url}/kyc/bob") as resp:
            assert "The last attempt failed" in await resp.text()
    assert kycflow_sandbox.submissions() == []
    assert kycflow_sandbox.uploads() == []
