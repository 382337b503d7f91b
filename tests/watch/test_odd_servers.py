"""Servers that differ from the sandbox: one that ignores ``sort_order`` (oldest first) with a
long history, and the reference's ``previuosLevel`` spelling."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp import web

import kycflow
from kycflow.watch import LevelGranted, LevelWatcher, PollPolicy

FAST = PollPolicy(initial=0.05, factor=1.2, maximum=0.15, jitter=0.1)
START = datetime(2026, 1, 1, tzinfo=UTC)


def _entry(i: int) -> dict[str, Any]:
    return {
        "id": i,
        "currentLevel": {"id": i, "name": f"Level {i}"},
        "previuosLevel": {"id": i - 1, "name": f"Level {i - 1}"} if i > 1 else None,
        "createTime": (START + timedelta(seconds=i)).isoformat(),
        "userId": "1",
    }


@pytest.fixture
async def oldest_first() -> AsyncIterator[tuple[str, list[dict[str, Any]]]]:
    history = [_entry(i) for i in range(1, 31)]

    async def handler(request: web.Request) -> web.Response:
        limit, offset = int(request.query["limit"]), int(request.query.get("offset", "0"))
        return web.json_response({"total": len(history), "data": history[offset : offset + limit]})

    app = web.Application()
    app.router.add_get("/api/v2/my/verifications", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}/api", history
    finally:
        await runner.cleanup()


async def _grant_later(history: list[dict[str, Any]]) -> None:
    await asyncio.sleep(0.3)
    history.append(_entry(31))


async def test_wait_for_level_finds_a_grant_on_the_last_page(
    oldest_first: tuple[str, list[dict[str, Any]]],
) -> None:
    base_url, history = oldest_first
    async with kycflow.Client(base_url, auth=kycflow.BearerToken("t")) as client:
        task = asyncio.create_task(_grant_later(history))
        granted = await client.verifications.wait_for_level("Level 31", timeout=5, poll=FAST)
        await task
    assert granted.id == 31
    assert granted.previous_level is not None
    assert granted.previous_level.name == "Level 30"


async def test_the_watcher_delivers_only_the_new_grant(
    oldest_first: tuple[str, list[dict[str, Any]]],
) -> None:
    base_url, history = oldest_first
    got: list[LevelGranted] = []
    async with (
        kycflow.Client(base_url) as client,
        LevelWatcher(client, poll=FAST, on_grant=got.append) as watcher,
    ):
        watcher.add("k", kycflow.BearerToken("t"))
        await asyncio.sleep(0.1)  # the baseline: thirty old entries, none delivered
        await _grant_later(history)
        for _ in range(100):
            if got:
                break
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.3)
    assert [e.verification.id for e in got] == [31]
