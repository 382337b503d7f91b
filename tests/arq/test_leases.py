"""Leases in Redis (a real redis-server): one run per key across stores and connections, the
lease renewed while held, and fencing once it is lost."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio
from polling import eventually

import kycflow
from kycflow.integrations.arq import RedisCheckpointStore
from kycflow.testing import Faults, Sandbox
from kycflow.wizard.events import StepStarted
from kycflow.wizard.leases import hold_lease

pytestmark = pytest.mark.redis


def _client(sb: Sandbox, user: Any) -> kycflow.Client:
    return kycflow.Client(
        sb.base_url, auth=kycflow.BearerToken(user.access_token), timeout=5.0, initial_backoff=0.01
    )


async def test_two_workers_running_one_key_exactly_one_submits(
    redis_url: str, redis_client: Any, docs_dir: Path
) -> None:
    # Two "workers": their own Redis connections and stores, one shared key.
    connections = [redis.asyncio.Redis.from_url(redis_url) for _ in range(2)]
    stores = [RedisCheckpointStore(c, prefix="t:cp:") for c in connections]
    async with Sandbox() as sb:
        user = sb.create_user()
        clients = [_client(sb, user) for _ in range(2)]
        try:
            outcomes = await asyncio.gather(
                *(
                    kycflow.WizardRunner(
                        c,
                        kycflow.DirectoryProvider(docs_dir),
                        checkpoint_store=s,
                        checkpoint_key="job-1",
                    ).run()
                    for c, s in zip(clients, stores, strict=True)
                ),
                return_exceptions=True,
            )
        finally:
            for c in clients:
                await c.aclose()
            for conn in connections:
                await conn.aclose()
        done = [o for o in outcomes if isinstance(o, kycflow.WizardResult)]
        busy = [o for o in outcomes if isinstance(o, kycflow.RunInProgressError)]
        assert (len(done), len(busy)) == (1, 1), outcomes
        sb.assert_each_step_submitted_once([user.email])
        assert sb.duplicates(user) == []
        assert len(sb.requests(route="submit", user=user.email)) == len(sb.scenario.steps)
    # Released at the end: the next run of the key can lease it at once.
    assert await redis_client.exists("t:cp:lease:job-1") == 0


async def test_a_lease_is_renewed_while_held_and_fences_tokens(redis_client: Any) -> None:
    # Renewed every ttl/3, a lease is lost when the event loop stalls for 2/3 of its ttl: 1.2 s
    # rides out a 0.8 s stall of a loaded machine (0.3 s did not survive a 0.2 s one).
    a = RedisCheckpointStore(redis_client, prefix="t:cp:", lease_ttl=1.2)
    b = RedisCheckpointStore(redis_client, prefix="t:cp:", lease_ttl=1.2)
    async with a.lease("job-1", "run-a") as held:
        # Two TTLs: alive only because it is renewed, and more than once (one renewal at
        # ttl/3 would let it expire at 4/3 ttl).
        await asyncio.sleep(2.4)
        assert not held.lost
        with pytest.raises(kycflow.RunInProgressError):
            async with b.lease("job-1", "run-b"):
                pass
    async with b.lease("job-1", "run-b") as later:
        assert later.token > held.token  # fencing tokens grow with every grant


async def test_a_run_that_lost_its_lease_cannot_save_and_the_new_holder_can(
    redis_client: Any,
) -> None:
    # 1.2 s, not less: a stall of 2/3 of it before the first save would lose the lease for real.
    a = RedisCheckpointStore(redis_client, prefix="t:cp:", lease_ttl=1.2)
    b = RedisCheckpointStore(redis_client, prefix="t:cp:", lease_ttl=5)
    checkpoint = kycflow.Checkpoint(key="job-1", run_id="run-a")
    async with hold_lease(a, "job-1", "run-a") as held:
        assert held is not None
        await a.save("job-1", checkpoint)  # fenced, and ours: written
        # The process stalls past its lease (simulated: the key expires under it).
        await redis_client.delete("t:cp:lease:job-1")
        async with hold_lease(b, "job-1", "run-b"):
            await b.save("job-1", kycflow.Checkpoint(key="job-1", run_id="run-b"))
        async with b.lease("job-1", "run-c"):
            with pytest.raises(kycflow.LeaseLostError):
                await a.save("job-1", checkpoint)
            # a's next renewal (within ttl/3) finds the lease gone
            await eventually(lambda: held.lost, "the lost lease marked lost", 5)
    loaded = await a.load("job-1")
    assert loaded is not None
    assert loaded.run_id == "run-b"  # the stale run overwrote nothing


async def test_wait_mode_waits_for_the_holder_then_gives_up_after_lease_wait(
    redis_client: Any,
) -> None:
    holder = RedisCheckpointStore(redis_client, prefix="t:cp:")
    waiter = RedisCheckpointStore(redis_client, prefix="t:cp:", on_busy="wait", lease_wait=5)
    impatient = RedisCheckpointStore(redis_client, prefix="t:cp:", on_busy="wait", lease_wait=0.2)
    order: list[str] = []
    holding = asyncio.Event()

    async def hold() -> None:
        async with holder.lease("job-1", "first"):
            holding.set()
            with pytest.raises(kycflow.RunInProgressError, match="waited"):
                async with impatient.lease("job-1", "third"):
                    pass
            order.append("first-released")

    async def wait() -> None:
        await holding.wait()  # the holder has the lease (a fixed head start can be too short)
        async with waiter.lease("job-1", "second"):
            order.append("second-holds")

    await asyncio.gather(hold(), wait())
    assert order == ["first-released", "second-holds"]


def test_bad_lease_ttl_is_refused(redis_client: Any) -> None:
    with pytest.raises(kycflow.ConfigurationError):
        RedisCheckpointStore(redis_client, lease_ttl=0)


async def test_a_run_whose_lease_is_taken_over_stops_before_it_submits(
    redis_client: Any, docs_dir: Path
) -> None:
    faults = Faults(slow_delay=0.5).fail_next("upload", "slow")
    store = RedisCheckpointStore(redis_client, prefix="t:cp:")
    usurper = RedisCheckpointStore(redis_client, prefix="t:cp:")
    async with Sandbox(faults=faults) as sb:
        user = sb.create_user()
        async with _client(sb, user) as client:
            uploading = asyncio.Event()
            runner = kycflow.WizardRunner(
                client,
                kycflow.DirectoryProvider(docs_dir),
                checkpoint_store=store,
                checkpoint_key="job-1",
                on_event=lambda e: uploading.set() if isinstance(e, StepStarted) else None,
            )
            task = asyncio.create_task(runner.run())
            await uploading.wait()  # the run is in its (slow) first upload
            # Its lease is lost (it stalled past the TTL, say) and another run takes the key.
            await redis_client.delete("t:cp:lease:job-1")
            async with usurper.lease("job-1", "usurper"):
                with pytest.raises(kycflow.LeaseLostError):
                    await task
        assert sb.requests(route="submit") == []
