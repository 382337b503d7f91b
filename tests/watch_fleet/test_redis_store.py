"""``RedisCursorStore`` on a real redis-server: round trips, bad data, a restarted watcher."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest
from polling import eventually

import kycflow
from kycflow.testing import LevelSpec, Review, Sandbox, Scenario
from kycflow.watch import Cursor, LevelGranted, LevelWatcher, PollPolicy, RedisCursorStore

pytestmark = pytest.mark.redis

FAST = PollPolicy(initial=0.05, factor=1.5, maximum=0.25, jitter=0.2)
JPEG = b"\xff\xd8\xff\xe0" + b"\x00\x10JFIF\x00" + bytes(range(256)) * 8
PDF = b"%PDF-1.4\n" + b"0" * 2000 + b"\n%%EOF\n"
PROVIDER = kycflow.MemoryProvider({2: JPEG, 3: JPEG, 4: ("address.pdf", PDF)})


async def test_round_trip_and_bad_data(redis_client: Any) -> None:
    store = RedisCursorStore(redis_client, prefix="t:")
    await store.ping()
    assert await store.load("k") is None
    cursor = Cursor(datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), (7, 8))
    await store.save("k", cursor)
    assert await store.load("k") == cursor
    assert await redis_client.get("t:k") is not None
    await store.delete("k")
    assert await store.load("k") is None
    await redis_client.set("t:bad", b"not json")
    with pytest.raises(kycflow.CursorStoreError, match="invalid") as caught:
        await store.load("bad")
    assert caught.value.key == "bad"


async def test_a_watcher_restarted_on_redis_delivers_each_grant_once(redis_client: Any) -> None:
    base = Scenario.default()
    scenario = Scenario(
        levels=tuple(LevelSpec(i + 1, f"Level {i}") for i in range(3)),
        steps=base.steps,
        initial_level=1,
        review=Review(decision="manual"),
    )
    store = RedisCursorStore(redis_client)
    async with Sandbox(scenario) as sb, kycflow.Client(sb.base_url) as client:
        user = sb.create_user()
        auth = kycflow.BearerToken(user.access_token)
        view = client.with_auth(auth)
        delivered: list[str] = []
        ids: list[int] = []

        def record(event: LevelGranted) -> None:
            assert event.current_level is not None
            delivered.append(event.current_level.name)
            ids.append(event.verification.id)

        for round_ in range(2):
            async with LevelWatcher(client, store=store, poll=FAST, on_grant=record) as w:
                w.add("alice", auth)
                await asyncio.sleep(0.15)
                await kycflow.WizardRunner(view, PROVIDER).run()
                sb.decide(user)
                await eventually(lambda n=round_ + 1: len(delivered) >= n, "the grant", 5)

                async def saved() -> bool:  # after the callback returned: close only then
                    cursor = await store.load("alice")
                    return cursor is not None and ids[-1] in cursor.ids

                await eventually(saved, "the cursor to be saved", 5)
        assert delivered == ["Level 1", "Level 2"]
