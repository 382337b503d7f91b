"""``LevelWatcher`` against the sandbox: many users, the rate cap, restarts, add/remove."""

from __future__ import annotations

import asyncio
import socket
import time
from collections import Counter
from datetime import UTC, datetime

import aiohttp
import pytest
from watchkit import client_for, finish_wizard

import kycflow
from kycflow.testing import LevelSpec, Review, Sandbox, Scenario
from kycflow.watch import (
    LevelGranted,
    LevelWatcher,
    MemoryCursorStore,
    PollPolicy,
    RedisCursorStore,
)

FAST = PollPolicy(initial=0.05, factor=1.5, maximum=0.25, jitter=0.2)


def _scenario(levels: int = 2, **review: object) -> Scenario:
    base = Scenario.default()
    return Scenario(
        levels=tuple(LevelSpec(i + 1, f"Level {i}") for i in range(levels)),
        steps=base.steps,
        initial_level=1,
        review=Review(**review),  # type: ignore[arg-type]
    )


async def _collect(watcher: LevelWatcher, count: int, limit: float = 10) -> list[LevelGranted]:
    got: list[LevelGranted] = []

    async def take() -> None:
        async for event in watcher.events():
            got.append(event)
            if len(got) == count:
                return

    await asyncio.wait_for(take(), limit)
    return got


async def test_each_of_many_users_sees_its_grant_exactly_once() -> None:
    async with Sandbox(_scenario(delay=0.1, delay_max=0.6, seed=1)) as sb:
        users = sb.create_users(40)
        async with client_for(sb) as client:
            for u in users:
                await finish_wizard(client, u.access_token)
            watcher = LevelWatcher(client, poll=FAST, max_rps=400, concurrency=8)
            async with watcher:
                for u in users:
                    watcher.add(u.email, kycflow.BearerToken(u.access_token), level="Level 1")
                events = await _collect(watcher, len(users))
                await asyncio.wait_for(watcher.join(), 5)
                await asyncio.sleep(0.3)  # nothing more arrives
                assert len(watcher) == 0
        assert Counter(e.key for e in events) == Counter(u.email for u in users)
        for event in events:
            assert event.awaited
            assert event.current_level is not None
            assert event.current_level.name == "Level 1"
            assert event.previous_level is not None
            assert event.previous_level.name == "Level 0"
            assert event.verification.id == sb.history(event.key)[-1]["id"]


async def test_requests_per_second_stay_under_the_cap() -> None:
    cap = 40
    # When each request was sent, taken in the client (aiohttp's trace hook): the server's
    # records are made when a reply is ready, and a server that stalls then catches up
    # answers many requests sent at the capped pace at once.
    sent: list[float] = []

    async def on_request_start(*_: object) -> None:
        sent.append(time.monotonic())

    trace = aiohttp.TraceConfig()
    trace.on_request_start.append(on_request_start)
    async with Sandbox(_scenario(decision="manual")) as sb:
        users = sb.create_users(30)
        async with (
            aiohttp.ClientSession(trace_configs=[trace]) as session,
            client_for(sb, session=session) as client,
        ):
            policy = PollPolicy(initial=0.01, factor=1.0, maximum=0.01, jitter=0)
            async with LevelWatcher(client, poll=policy, max_rps=cap, concurrency=30) as watcher:
                for u in users:
                    watcher.add(u.email, kycflow.BearerToken(u.access_token), level="Level 1")
                await asyncio.sleep(2.0)
            made = watcher.requests  # once closed: no reply left to count
        answered = len(sb.requests("history"))
    # ``requests`` counts a read when its reply is in: one the close cancelled in flight (at
    # most one per concurrent poll) was sent (and may have reached the server) uncounted.
    assert made <= answered <= len(sent) <= made + 30
    assert made >= cap  # the cap, not the schedule, was the limit
    # A send follows its token by a scheduling delay a loaded machine stretches: a window a
    # little short of a second (without the cap, 30 users polling every 10 ms would make
    # hundreds of requests in it).
    worst = max(sum(1 for t in sent if s <= t < s + 0.9) for s in sent)
    assert worst <= cap + 1


async def test_a_restarted_watcher_does_not_deliver_a_grant_twice() -> None:
    store = MemoryCursorStore()
    async with Sandbox(_scenario(levels=3, decision="manual")) as sb:
        user = sb.create_user()
        auth = kycflow.BearerToken(user.access_token)
        async with client_for(sb) as client:
            first: list[LevelGranted] = []
            async with LevelWatcher(client, store=store, poll=FAST, on_grant=first.append) as w:
                w.add("alice", auth)
                await asyncio.sleep(0.1)  # the first poll sets the baseline
                await finish_wizard(client, user.access_token)
                sb.decide(user)
                for _ in range(100):
                    if first:
                        break
                    await asyncio.sleep(0.02)
            assert [e.current_level.name for e in first if e.current_level] == ["Level 1"]
            second: list[LevelGranted] = []
            async with LevelWatcher(client, store=store, poll=FAST, on_grant=second.append) as w:
                w.add("alice", auth)
                await asyncio.sleep(0.3)
                assert second == []  # Level 1 was delivered by the first run
                await finish_wizard(client, user.access_token)
                sb.decide(user)
                for _ in range(100):
                    if second:
                        break
                    await asyncio.sleep(0.02)
                await asyncio.sleep(0.2)
            assert [e.current_level.name for e in second if e.current_level] == ["Level 2"]
            third: list[LevelGranted] = []
            async with LevelWatcher(client, store=store, poll=FAST, on_grant=third.append) as w:
                w.add("alice", auth, level="Level 2")  # granted and delivered before
                await asyncio.wait_for(w.join(), 2)
            assert third == []


async def test_events_not_taken_before_close_are_delivered_after_a_restart() -> None:
    store = MemoryCursorStore()
    async with Sandbox() as sb:
        user = sb.create_user()
        auth = kycflow.BearerToken(user.access_token)
        async with client_for(sb) as client:
            await finish_wizard(client, user.access_token)
            async with LevelWatcher(client, store=store, poll=FAST) as watcher:
                watcher.add("k", auth, level="Level 1")
                await asyncio.sleep(0.2)  # found and queued, but nobody iterates
            assert await store.load("k") is None or (await store.load("k")).ids == ()  # type: ignore[union-attr]
            async with LevelWatcher(client, store=store, poll=FAST) as watcher:
                watcher.add("k", auth, level="Level 1")
                events = await _collect(watcher, 1)
        assert events[0].awaited
        saved = await store.load("k")
        assert saved is not None
        assert events[0].verification.id in saved.ids


async def test_users_added_and_removed_while_it_runs() -> None:
    async with Sandbox(_scenario(decision="manual")) as sb:
        a, b, c = sb.create_users(3)
        async with client_for(sb) as client:
            for u in (a, b, c):
                await finish_wizard(client, u.access_token)
            got: list[LevelGranted] = []
            async with LevelWatcher(client, poll=FAST, on_grant=got.append) as watcher:
                watcher.add("a", kycflow.BearerToken(a.access_token), level="Level 1")
                watcher.add("b", kycflow.BearerToken(b.access_token), level="Level 1")
                await asyncio.sleep(0.1)
                assert watcher.remove("b")
                assert not watcher.remove("b")
                sb.decide(a)
                sb.decide(b)
                watcher.add("c", kycflow.BearerToken(c.access_token), level="Level 1")
                await asyncio.sleep(0.1)
                sb.decide(c)
                await asyncio.wait_for(watcher.join(), 3)
        assert sorted(e.key for e in got) == ["a", "c"]


async def test_since_delivers_grants_made_before_the_first_poll() -> None:
    async with Sandbox() as sb:
        since = datetime.now(UTC).replace(microsecond=0)
        user = sb.create_user()  # its "created" entry, then the grant: both after ``since``
        async with client_for(sb) as client:
            await finish_wizard(client, user.access_token)  # granted at once
            async with LevelWatcher(client, poll=FAST) as watcher:
                watcher.add("k", kycflow.BearerToken(user.access_token), since=since)
                events = await _collect(watcher, 2)
                await asyncio.sleep(0.3)
                assert "k" in watcher  # no level awaited: watched on
        assert [e.current_level.name for e in events if e.current_level] == ["Level 0", "Level 1"]
        assert not any(e.awaited for e in events)


async def test_a_failing_callback_is_retried_and_the_cursor_waits_for_it() -> None:
    store = MemoryCursorStore()
    calls: list[int] = []

    async def flaky(event: LevelGranted) -> None:
        calls.append(event.verification.id)
        if len(calls) < 3:
            raise RuntimeError("consumer down")

    async with Sandbox() as sb:
        user = sb.create_user()
        async with client_for(sb) as client:
            await finish_wizard(client, user.access_token)
            async with LevelWatcher(client, store=store, poll=FAST, on_grant=flaky) as w:
                w.add("k", kycflow.BearerToken(user.access_token), level="Level 1")
                await asyncio.wait_for(w.join(), 3)
    assert len(calls) == 3
    assert len(set(calls)) == 1
    saved = await store.load("k")
    assert saved is not None
    assert calls[0] in saved.ids


async def test_a_refused_token_is_reported_and_dropped() -> None:
    errors: list[tuple[str, kycflow.KycflowError]] = []
    async with Sandbox() as sb, client_for(sb) as client:
        watcher = LevelWatcher(
            client, poll=FAST, on_grant=lambda e: None, on_error=lambda k, e: errors.append((k, e))
        )
        async with watcher:
            watcher.add("bad", kycflow.BearerToken("nope"), level="Level 1")
            await asyncio.wait_for(watcher.join(), 3)
        assert len(sb.requests("history")) == 1
    assert [(k, type(e)) for k, e in errors] == [("bad", kycflow.AuthenticationError)]


async def test_bad_input_gets_typed_errors() -> None:
    async with Sandbox() as sb, client_for(sb) as client:
        for rate in (0, -1, float("nan"), True):
            with pytest.raises(kycflow.ConfigurationError, match="rate"):
                LevelWatcher(client, max_rps=rate)
        with pytest.raises(kycflow.ConfigurationError, match="concurrency"):
            LevelWatcher(client, concurrency=0)
        watcher = LevelWatcher(client, known_levels=["Level 0", "Level 1"])
        with pytest.raises(kycflow.UnknownLevelError, match="Level 0, Level 1"):
            watcher.add("k", kycflow.BearerToken("t"), level="Gold")
        with pytest.raises(kycflow.ConfigurationError, match="auth"):
            watcher.add("k", "token")  # type: ignore[arg-type]
        with pytest.raises(kycflow.ConfigurationError, match="key"):
            watcher.add("", kycflow.BearerToken("t"))
        with pytest.raises(kycflow.ConfigurationError, match="since"):
            watcher.add("k", kycflow.BearerToken("t"), since=datetime(2026, 1, 1))
        assert len(watcher) == 0


async def test_an_unreachable_store_fails_start() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here once closed
    store = RedisCursorStore.from_url(f"redis://127.0.0.1:{port}/0")
    async with Sandbox() as sb, client_for(sb) as client:
        started = time.monotonic()
        with pytest.raises(kycflow.CursorStoreError, match="ping"):
            await LevelWatcher(client, store=store).start()
        assert time.monotonic() - started < 5
    await store.redis.aclose()  # type: ignore[attr-defined]


async def test_concurrency_is_bounded_and_one_pool_serves_every_user() -> None:
    from aiohttp import web

    in_flight = peak = 0
    peers: set[int] = set()

    async def history(request: web.Request) -> web.Response:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        assert request.transport is not None
        peers.add(request.transport.get_extra_info("peername")[1])
        await asyncio.sleep(0.05)
        in_flight -= 1
        entry = {
            "id": 1,
            "currentLevel": {"id": 1, "name": "Level 0"},
            "createTime": "2026-01-01T00:00:00+00:00",
        }
        return web.json_response({"total": 1, "data": [entry]})

    app = web.Application()
    app.router.add_get("/api/v2/my/verifications", history)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    port = runner.addresses[0][1]
    try:
        async with kycflow.Client(f"http://127.0.0.1:{port}/api") as client:
            policy = PollPolicy(initial=0.01, factor=1.0, maximum=0.01, jitter=0)
            watcher = LevelWatcher(client, poll=policy, max_rps=1000, concurrency=3)
            async with watcher:
                for i in range(20):
                    watcher.add(f"u{i}", kycflow.BearerToken(f"token-{i}"), level="Level 1")
                await asyncio.sleep(0.6)
            assert watcher.requests >= 20
    finally:
        await runner.cleanup()
    assert peak == 3
    assert len(peers) <= 3  # three connections, reused across users


async def test_more_grants_than_a_page_between_two_polls_are_all_delivered() -> None:
    from datetime import timedelta

    from aiohttp import web

    from kycflow.watch import Cursor

    start = datetime(2026, 1, 1, tzinfo=UTC)
    history = [
        {
            "id": i,
            "currentLevel": {"id": i, "name": f"Level {i}"},
            "previousLevel": {"id": i - 1, "name": f"Level {i - 1}"} if i > 1 else None,
            "createTime": (start + timedelta(seconds=i)).isoformat(),
        }
        for i in range(1, 46)
    ]

    async def handler(request: web.Request) -> web.Response:
        limit, offset = int(request.query["limit"]), int(request.query.get("offset", "0"))
        newest_first = list(reversed(history))
        return web.json_response(
            {"total": len(history), "data": newest_first[offset : offset + limit]}
        )

    app = web.Application()
    app.router.add_get("/api/v2/my/verifications", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    store = MemoryCursorStore()
    store.cursors["k"] = Cursor(start + timedelta(seconds=3), (3,))  # delivered up to entry 3
    got: list[LevelGranted] = []
    try:
        async with kycflow.Client(f"http://127.0.0.1:{runner.addresses[0][1]}/api") as client:
            async with LevelWatcher(client, store=store, poll=FAST, on_grant=got.append) as w:
                w.add("k", kycflow.BearerToken("t"), level="Level 45")
                await asyncio.wait_for(w.join(), 5)
            assert w.requests == 3  # 42 new entries: three pages of 20
    finally:
        await runner.cleanup()
    assert [e.verification.id for e in got] == list(range(4, 46))
    assert got[-1].awaited


async def test_registration_may_be_awaited_and_the_watcher_iterated() -> None:
    async with Sandbox() as sb:
        user = sb.create_user()
        async with client_for(sb) as client:
            await finish_wizard(client, user.access_token)
            async with LevelWatcher(client, poll=FAST) as watcher:
                assert await watcher.add("k", kycflow.BearerToken(user.access_token)) is None
                await watcher.add("j", kycflow.BearerToken(user.access_token), level="Level 1")
                assert await watcher.remove("k") is True
                assert not watcher.remove("k")
                async for event in watcher:
                    assert event.key == "j"
                    break
