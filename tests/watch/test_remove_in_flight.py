"""``remove(key)`` while a poll of that key is in flight: once ``remove`` returned, the key gets
no event (callback or iterator) and no cursor saved from that poll. The server holds the poll
until the test has called ``remove``, so the window is reproduced on every run."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web
from fakeserver import FakeServer

import kycflow
from kycflow.watch import LevelGranted, LevelWatcher, MemoryCursorStore, PollPolicy

FAST = PollPolicy(initial=0.05, factor=1.5, maximum=0.25, jitter=0)
START = datetime(2026, 1, 1, tzinfo=UTC)
PATH = "/v2/my/verifications"


def _entry(i: int) -> dict[str, Any]:
    return {
        "id": i,
        "currentLevel": {"id": i + 1, "name": f"Level {i}"},
        "previousLevel": {"id": i, "name": f"Level {i - 1}"},
        "createTime": (START + timedelta(seconds=i)).isoformat(),
        "userId": "1",
    }


class HeldHistory:
    """Serves each token's history (newest first); the poll of ``held`` waits for ``release``."""

    def __init__(self, histories: dict[str, list[dict[str, Any]]], held: str) -> None:
        self.histories = histories
        self.held = held
        self.arrived = asyncio.Event()
        self.release = asyncio.Event()
        self.answered: dict[str, int] = {}
        self.replied = {token: asyncio.Event() for token in histories}

    async def __call__(self, request: web.Request) -> web.StreamResponse:
        token = request.headers["Authorization"].removeprefix("Bearer ")
        if token == self.held and not self.release.is_set():
            self.arrived.set()
            await self.release.wait()
        data = sorted(self.histories[token], key=lambda e: e["createTime"], reverse=True)
        self.answered[token] = self.answered.get(token, 0) + 1
        self.replied[token].set()
        return web.json_response({"total": len(data), "data": data})


async def _serve(
    histories: dict[str, list[dict[str, Any]]], held: str
) -> tuple[FakeServer, HeldHistory]:
    handler = HeldHistory(histories, held)
    server = FakeServer()
    server.route("GET", PATH, handler)
    await server.start()
    return server, handler


async def test_a_key_removed_mid_poll_gets_no_callback_and_no_cursor() -> None:
    store = MemoryCursorStore()
    got: list[LevelGranted] = []
    server, held = await _serve({"k": [_entry(1)], "probe": [_entry(1)]}, held="k")
    try:
        async with (
            kycflow.Client(server.base_url) as client,
            LevelWatcher(
                client, store=store, poll=FAST, concurrency=1, on_grant=got.append
            ) as watcher,
        ):
            watcher.add("k", kycflow.BearerToken("k"), level="Level 1")
            await asyncio.wait_for(held.arrived.wait(), 5)  # k's poll is at the server
            assert await watcher.remove("k")
            held.release.set()
            # One slot: the probe's poll starts only after k's poll returned and was handled.
            watcher.add("probe", kycflow.BearerToken("probe"), level="Level 1")
            await asyncio.wait_for(watcher.join(), 5)
        assert [e.key for e in got] == ["probe"]
        assert held.answered == {"k": 1, "probe": 1}
        assert await store.load("k") is None
    finally:
        await server.close()


async def test_a_key_removed_mid_poll_gets_no_event_from_the_iterator() -> None:
    store = MemoryCursorStore()
    server, held = await _serve({"k": [_entry(1)], "probe": [_entry(1)]}, held="k")
    try:
        async with (
            kycflow.Client(server.base_url) as client,
            LevelWatcher(client, store=store, poll=FAST, concurrency=1) as watcher,
        ):
            watcher.add("k", kycflow.BearerToken("k"), level="Level 1")
            await asyncio.wait_for(held.arrived.wait(), 5)
            assert await watcher.remove("k")
            held.release.set()
            await asyncio.wait_for(held.replied["k"].wait(), 5)
            await asyncio.sleep(0.05)  # k's reply decoded and (on the old code) queued
            watcher.add("probe", kycflow.BearerToken("probe"), level="Level 1")
            first = await asyncio.wait_for(anext(aiter(watcher.events())), 5)
        assert first.key == "probe"
        assert await store.load("k") is None
    finally:
        await server.close()


async def test_an_event_queued_before_remove_is_not_handed_over_after_it() -> None:
    """The grant was found and queued, nobody took it yet, then the key was removed: the
    iterator skips it and its cursor stays unsaved (a later ``add`` delivers it)."""
    store = MemoryCursorStore()
    server, held = await _serve({"k": [_entry(1)], "probe": [_entry(1)]}, held="none")
    try:
        async with (
            kycflow.Client(server.base_url) as client,
            LevelWatcher(client, store=store, poll=FAST) as watcher,
        ):
            watcher.add("k", kycflow.BearerToken("k"), level="Level 1")
            await asyncio.wait_for(held.replied["k"].wait(), 5)
            await asyncio.sleep(0.05)  # queued, not taken
            assert await watcher.remove("k")
            watcher.add("probe", kycflow.BearerToken("probe"), level="Level 1")
            first = await asyncio.wait_for(anext(aiter(watcher.events())), 5)
            assert first.key == "probe"
            assert await store.load("k") is None
            watcher.add("k", kycflow.BearerToken("k"), level="Level 1")  # watched again
            again = await asyncio.wait_for(anext(aiter(watcher.events())), 5)
        assert again.key == "k"
        assert again.verification.id == 1
    finally:
        await server.close()


async def test_removing_a_key_from_its_callback_stops_its_other_grants() -> None:
    store = MemoryCursorStore()
    got: list[LevelGranted] = []
    server, _ = await _serve({"k": [_entry(1), _entry(2)]}, held="none")
    try:
        async with kycflow.Client(server.base_url) as client:

            def on_grant(event: LevelGranted) -> None:
                got.append(event)
                watcher.remove(event.key)

            async with LevelWatcher(client, store=store, poll=FAST, on_grant=on_grant) as watcher:
                watcher.add("k", kycflow.BearerToken("k"), since=START)
                await asyncio.wait_for(watcher.join(), 5)
                await asyncio.sleep(0.1)  # the poll's task has finished its delivery
        assert [e.verification.id for e in got] == [1]
        saved = await store.load("k")
        assert saved is not None
        assert saved.ids == (1,)  # the delivered grant's cursor is kept: no replay on re-add
    finally:
        await server.close()
