"""The web app example driven by headless Chromium (Playwright) against the sandbox."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from types import ModuleType

import pytest
from aiohttp import web

from kycflow.testing import Sandbox
from kycflow.wizard.providers import normalise_key

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
ASSETS = Path(__file__).resolve().parents[2] / "src" / "kycflow" / "assets"
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOT = Path("/tmp/kycflow-webapp-final.png")


def sample_for(description: str) -> Path | None:
    """The shipped sample document whose name matches a type description, if any."""
    key = normalise_key(description)
    for path in ASSETS.iterdir():
        if normalise_key(path.stem) == key:
            return path
    return None


@pytest.fixture
async def app_url(webapp: ModuleType, kycflow_sandbox: Sandbox) -> AsyncIterator[str]:
    user = kycflow_sandbox.create_user("alice@sandbox.test")
    app = webapp.create_app(kycflow_sandbox.base_url, lambda _uid: user.access_token)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


@pytest.fixture
def chromium() -> Path:
    """Debian's chromium; its absence is a failure, never a skip (CI installs it)."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (CI's .ci/run does)")
    return CHROMIUM


async def test_browser_completes_the_verification(
    chromium: Path, app_url: str, kycflow_sandbox: Sandbox
) -> None:
    from playwright.async_api import async_playwright, expect

    seen_types: list[list[str]] = []
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path=str(chromium), headless=True, args=LAUNCH_ARGS
        )
        try:
            page = await browser.new_page()
            page.set_default_timeout(15_000)
            await page.goto(f"{app_url}/kyc/alice")
            for _ in range(5):  # the default scenario has three steps
                requested = page.locator("#requested li")
                await expect(requested.first).to_be_visible()
                names = [n.strip() for n in await requested.all_inner_texts()]
                seen_types.append(names)
                ids = [await li.get_attribute("data-type-id") for li in await requested.all()]
                chosen = next(
                    (tid, sample_for(n)) for tid, n in zip(ids, names, strict=True) if sample_for(n)
                )
                await page.set_input_files(f"input[name='type-{chosen[0]}']", str(chosen[1]))
                await page.click("button[type=submit]")
                await page.wait_for_url(re.compile(r"/kyc/alice/progress$"))
                status = page.locator("#status")
                await expect(status).to_have_text(
                    re.compile(r"Verification complete|More documents needed|failed")
                )
                text = await status.inner_text()
                assert "failed" not in text, text
                if text == "Verification complete":
                    break
                await page.click("#next")
                await page.wait_for_url(re.compile(r"/kyc/alice$"))
            await expect(page.locator("#status")).to_have_text("Verification complete")
            await expect(page.locator("#events li").last).to_have_text("All 3 step(s) done")
            await page.screenshot(path=str(SCREENSHOT), full_page=True)
        finally:
            await browser.close()

    assert seen_types == [["Passport", "ID card"], ["Selfie"], ["Proof of address"]]
    submissions = kycflow_sandbox.submissions("alice@sandbox.test")
    assert [s.step for s in submissions] == [0, 1, 2]
    assert [s.type for s in submissions] == [2, 3, 4]
    assert submissions[-1].completed
    assert kycflow_sandbox.duplicates() == []
    kycflow_sandbox.assert_each_step_submitted_once()
