"""``FleetRegistry.remove(key)`` while a worker's poll of that key is in flight: once ``remove``
returned, the poll adds nothing to the grants stream, calls no ``on_grant`` and saves no cursor
(the registry's check and the delivery are one atomic script). The server holds the poll until
the test has called ``remove``, so the window is reproduced on every run."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp import web
from fakeserver import FakeServer
from polling import eventually

import kycflow
from kycflow.watch import FleetRegistry, FleetWatcher, LevelGranted, PollPolicy, event_from_stream

pytestmark = [pytest.mark.redis, pytest.mark.timeout(30)]

PREFIX = "kycflow:watch:"
FAST = PollPolicy(initial=0.02, factor=1.2, maximum=0.1, jitter=0)
ENTRY = {
    "id": 1,
    "currentLevel": {"id": 2, "name": "Level 1"},
    "previousLevel": {"id": 1, "name": "Level 0"},
    "createTime": datetime(2026, 1, 1, tzinfo=UTC).isoformat(),
    "userId": "1",
}


class HeldHistory:
    """Every token's history is one grant; the first poll of ``held`` waits for ``release``."""

    def __init__(self, held: str) -> None:
        self.held = held
        self.arrived = asyncio.Event()
        self.release = asyncio.Event()
        self.answered: dict[str, int] = {}

    async def __call__(self, request: web.Request) -> web.StreamResponse:
        token = request.headers["Authorization"].removeprefix("Bearer ")
        if token == self.held and not self.release.is_set():
            self.arrived.set()
            await self.release.wait()
        self.answered[token] = self.answered.get(token, 0) + 1
        return web.json_response({"total": 1, "data": [ENTRY]})


def resolve(key: str, ref: Mapping[str, Any]) -> kycflow.Auth:
    return kycflow.BearerToken(ref["user"])


@pytest.mark.parametrize(
    ("with_callback", "added_again"),
    [(True, False), (False, False), (True, True)],
    ids=["callback", "stream-only", "removed-and-added-again"],
)
async def test_a_user_removed_mid_poll_gets_nothing_from_that_poll(
    redis_client: Any, with_callback: bool, added_again: bool
) -> None:
    held = HeldHistory("k")
    server = FakeServer()
    server.route("GET", "/v2/my/verifications", held)
    await server.start()
    got: list[LevelGranted] = []
    registry = FleetRegistry(redis_client)
    await registry.add("k", {"user": "k"}, level="Level 1")
    try:
        async with kycflow.Client(server.base_url) as client:
            watcher = FleetWatcher(
                client,
                redis_client,
                resolve_auth=resolve,
                on_grant=got.append if with_callback else None,
                poll=FAST,
                tick=0.01,
                lease_ttl=10,
            )
            task = asyncio.create_task(watcher.run())
            try:
                await asyncio.wait_for(held.arrived.wait(), 10)  # k's poll is at the server
                assert await registry.remove("k")
                if added_again:  # a new registration, awaiting another level
                    await registry.add("k", {"user": "k"}, level="Level 3")
                held.release.set()

                async def k_released() -> bool:
                    return not await redis_client.exists(PREFIX + "lease:k")

                await eventually(k_released, "k's poll to end")
                # The worker still delivers for a user that is watched.
                await registry.add("probe", {"user": "probe"}, level="Level 1")

                async def probe_finished() -> bool:
                    # The grant reaches the stream before the poll's release (which ends the
                    # probe's registration): cancelling the worker in between is a crash, whose
                    # lease would lapse later, so wait for both.
                    delivered = bool(await redis_client.xlen(PREFIX + "grants"))
                    return delivered and not await redis_client.exists(PREFIX + "lease:probe")

                await eventually(probe_finished, "the probe's grant and release")
            finally:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
    finally:
        await server.close()
    entries = await redis_client.xrange(PREFIX + "grants")
    assert [event_from_stream(fields).key for _, fields in entries] == ["probe"]
    assert [event.key for event in got] == (["probe"] if with_callback else [])
    assert watcher.superseded == 0  # a removal is not a takeover
    assert watcher.delivered == 1
    if added_again:
        # The old poll's release (its level came: "done") left the new registration alone.
        assert await registry.count() == 1
        assert await redis_client.zscore(PREFIX + "due", "k") is not None
    else:
        assert held.answered["k"] == 1
        assert await redis_client.get(PREFIX + "cursor:k") is None
        assert not await redis_client.hexists(PREFIX + "polls", "k")
        assert await registry.count() == 0
