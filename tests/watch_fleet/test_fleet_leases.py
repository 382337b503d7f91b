"""Fleet watchers in one process on a real redis-server: leases that lapse mid-poll still give
each grant to the stream exactly once; the registry refuses raw tokens."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import Mapping
from typing import Any

import pytest
from polling import eventually

import kycflow
from kycflow.testing import Faults, Review, Sandbox, Scenario
from kycflow.watch import FleetRegistry, FleetWatcher, PollPolicy, event_from_stream

pytestmark = [pytest.mark.redis, pytest.mark.timeout(60)]

JPEG = b"\xff\xd8\xff\xe0" + b"\x00\x10JFIF\x00" + bytes(range(256)) * 8
PDF = b"%PDF-1.4\n" + b"0" * 2000 + b"\n%%EOF\n"
PROVIDER = kycflow.MemoryProvider({2: JPEG, 3: JPEG, 4: ("address.pdf", PDF)})
FAST = PollPolicy(initial=0.02, factor=1.2, maximum=0.1, jitter=0.2)


async def test_lapsed_leases_never_deliver_twice(redis_client: Any) -> None:
    base = Scenario.default()
    scenario = Scenario(
        levels=base.levels, steps=base.steps, initial_level=1, review=Review(delay=0.2)
    )
    # Slow history reads (0.15 s) against 0.05 s leases: other watchers take users over
    # while a poll is still in flight, which the cursor's compare-and-set must absorb.
    faults = Faults(rates={"history": {"slow": 0.5}}, slow_delay=0.15, seed=2)
    async with Sandbox(scenario, faults=faults) as sb:
        users = sb.create_users(12)
        tokens = {u.email: u.access_token for u in users}

        def resolve(key: str, ref: Mapping[str, Any]) -> kycflow.Auth:
            return kycflow.BearerToken(tokens[ref["user"]])

        registry = FleetRegistry(redis_client)
        for email in tokens:
            await registry.add(email, {"user": email}, level="Level 1")

        async def all_done() -> bool:
            return await registry.count() == 0

        async with kycflow.Client(sb.base_url) as client:
            watchers = [
                FleetWatcher(
                    client,
                    redis_client,
                    resolve_auth=resolve,
                    poll=FAST,
                    lease_ttl=0.05,
                    tick=0.01,
                    max_rps=1000,
                    concurrency=4,
                )
                for _ in range(3)
            ]
            tasks = [asyncio.create_task(w.run()) for w in watchers]
            try:
                for token in tokens.values():
                    view = client.with_auth(kycflow.BearerToken(token))
                    await kycflow.WizardRunner(view, PROVIDER).run()
                # Each user leaves the registry once its grant is delivered; fail loudly if not.
                await eventually(all_done, "every user's grant delivered and the user removed", 20)
                # Polls still in flight end within a slow read (0.15 s): a duplicate from one
                # would show in the stream now.
                await asyncio.sleep(0.3)
            finally:
                for task in tasks:
                    task.cancel()
                for task in tasks:
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
        entries = await redis_client.xrange("kycflow:watch:grants")
    events = [event_from_stream(fields) for _, fields in entries]
    assert await registry.count() == 0
    assert Counter(e.key for e in events) == Counter(list(tokens))
    assert sum(w.delivered for w in watchers) == len(tokens)
    assert sum(w.superseded for w in watchers) > 0  # takeovers did happen mid-poll
    assert len(sb.faults_injected("history")) > 0


async def test_the_registry_refuses_raw_tokens_and_bad_levels(redis_client: Any) -> None:
    registry = FleetRegistry(redis_client)
    with pytest.raises(kycflow.ConfigurationError, match="raw token"):
        await registry.add("k", {"token": "secret"})
    with pytest.raises(kycflow.ConfigurationError, match="empty"):
        await registry.add("k", {"user": "x"}, level=" ")
    with pytest.raises(kycflow.ConfigurationError, match="key"):
        await registry.add("", {"user": "x"})
    assert await registry.count() == 0
    await registry.add("k", {"user": "x"}, level=2)
    assert await registry.count() == 1
    assert await registry.remove("k")
    assert not await registry.remove("k")
    assert b"secret" not in b"".join(await redis_client.keys("*"))


async def test_the_arq_job_registers_and_enqueue_refuses_raw_tokens(
    redis_client: Any, redis_url: str
) -> None:
    from arq.connections import RedisSettings, create_pool

    from kycflow.integrations.arq_watch import (
        ADD_FUNCTION,
        enqueue_watch,
        make_watch_worker_settings,
        watch_user,
    )

    await watch_user({"redis": redis_client}, "k", {"user": "x"}, "Level 1")
    assert await FleetRegistry(redis_client).count() == 1
    pool = await create_pool(RedisSettings.from_dsn(redis_url))
    try:
        with pytest.raises(kycflow.ConfigurationError, match="raw token"):
            await enqueue_watch(pool, "j", {"token": "secret"})
        await enqueue_watch(pool, "j", {"user": "y"}, level=2)
        queued = await pool.queued_jobs()
        assert [(j.function, j.args) for j in queued] == [(ADD_FUNCTION, ("j", {"user": "y"}, 2))]
    finally:
        await pool.aclose()
    settings = make_watch_worker_settings(base_url="http://127.0.0.1:1/api", redis=redis_url)
    assert [f.name for f in settings.functions] == [ADD_FUNCTION]  # type: ignore[attr-defined]
