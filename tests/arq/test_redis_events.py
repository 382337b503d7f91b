"""Run events on a Redis stream per job key: published by runs (directly, by ``run_many`` and
by arq jobs), bounded, and read back live and resumably, against a real redis-server."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

import kycflow
from kycflow.integrations.arq import CTX_KEY, WorkerState, run_verification
from kycflow.integrations.redis_events import (
    EventStreamError,
    RedisEventPublisher,
    read_events,
    stream_key,
)
from kycflow.testing import Sandbox

pytestmark = [pytest.mark.redis, pytest.mark.timeout(60)]

ASSETS = Path(kycflow.__file__).parent / "assets"
FILES = {
    2: ("passport.jpg", (ASSETS / "passport.jpg").read_bytes()),
    3: ("selfie.jpg", (ASSETS / "selfie.jpg").read_bytes()),
    4: ("proof_of_address.pdf", (ASSETS / "proof_of_address.pdf").read_bytes()),
}


async def _collect(stream: Any) -> list[Any]:
    return [item async for item in stream]


async def test_a_runs_events_are_read_back_in_order_and_resumably(
    redis_client: Any, kycflow_sandbox: Sandbox
) -> None:
    publisher = RedisEventPublisher(redis_client)
    user = kycflow_sandbox.create_user("stream@sandbox.test")
    seen: list[kycflow.WizardEvent] = []

    async def on_event(event: kycflow.WizardEvent) -> None:
        seen.append(event)
        await publisher.on_event("job-a")(event)

    async with kycflow.Client(kycflow_sandbox.base_url) as client:
        view = client.with_auth(kycflow.BearerToken(user.access_token))
        await kycflow.WizardRunner(view, kycflow.MemoryProvider(FILES), on_event=on_event).run()

    items = await _collect(read_events(redis_client, "job-a", block=None))
    assert [i.data for i in items] == [e.to_dict() for e in seen]
    assert items[-1].data["event"] == "wizard.completed"
    assert len({i.id for i in items}) == len(items)
    # A reader that stopped after the third event resumes with the rest, nothing repeated.
    rest = await _collect(read_events(redis_client, "job-a", last_id=items[2].id, block=None))
    assert rest == items[3:]
    ttl = await redis_client.ttl(stream_key("job-a"))
    assert 0 < ttl <= 86400


async def test_a_live_reader_gets_events_as_they_come(redis_client: Any) -> None:
    publisher = RedisEventPublisher(redis_client)
    reader = asyncio.create_task(
        _collect(read_events(redis_client, "job-live", block=0.05, idle_timeout=5))
    )
    await asyncio.sleep(0.1)  # the reader is waiting on an empty stream
    for step in (1, 2):
        await publisher.publish("job-live", {"event": "wizard.step_started", "step": step})
        await asyncio.sleep(0.05)
    await publisher.publish("job-live", {"event": "wizard.completed", "step": 2})
    await publisher.publish("job-live", {"event": "after.the.end", "step": 3})
    items = await asyncio.wait_for(reader, 5)
    assert [i.data["event"] for i in items] == [
        "wizard.step_started",
        "wizard.step_started",
        "wizard.completed",
    ]


async def test_an_idle_reader_ends_after_its_timeout(redis_client: Any) -> None:
    items = await asyncio.wait_for(
        _collect(read_events(redis_client, "job-idle", block=0.05, idle_timeout=0.2)), 5
    )
    assert items == []


async def test_the_stream_stays_bounded(redis_client: Any) -> None:
    publisher = RedisEventPublisher(redis_client, maxlen=10, ttl=None)
    for i in range(600):
        await publisher.publish("job-long", {"event": "wizard.retrying", "step": i})
    length = await redis_client.xlen(stream_key("job-long"))
    # ``MAXLEN ~`` trims whole nodes (100 entries by default): at most maxlen + a node.
    assert 10 <= length <= 110
    assert await redis_client.ttl(stream_key("job-long")) == -1
    items = await _collect(read_events(redis_client, "job-long", block=None))
    assert items[-1].data["step"] == 599


async def test_run_many_publishes_per_job_key(redis_client: Any, kycflow_sandbox: Sandbox) -> None:
    publisher = RedisEventPublisher(redis_client, prefix="batch:")
    users = kycflow_sandbox.create_users(2)
    jobs = [
        kycflow.BatchJob(
            f"b-{i}", kycflow.BearerToken(u.access_token), kycflow.MemoryProvider(FILES)
        )
        for i, u in enumerate(users)
    ]
    async with kycflow.Client(kycflow_sandbox.base_url) as client:
        results = await kycflow.run_many(jobs, client=client, on_event=publisher)
    assert all(r.ok for r in results)
    for job, result in zip(jobs, results, strict=True):
        items = await _collect(read_events(redis_client, job.key, prefix="batch:", block=None))
        assert {i.data["run_id"] for i in items} == {result.result.run_id}  # type: ignore[union-attr]
        assert items[-1].data["event"] == "wizard.completed"


async def test_arq_jobs_publish_to_the_job_keys_stream(
    redis_client: Any, kycflow_sandbox: Sandbox, docs_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = kycflow_sandbox.create_user("arq-stream@sandbox.test")
    monkeypatch.setenv("STREAM_TEST_TOKEN", user.access_token)
    async with kycflow.Client(kycflow_sandbox.base_url) as client:
        state = WorkerState(
            client=client,
            store=kycflow.MemoryCheckpointStore(),  # type: ignore[arg-type]
            events=RedisEventPublisher(redis_client),
        )
        ctx: dict[str, Any] = {"job_id": "kycflow:verify:s-1", "job_try": 1, CTX_KEY: state}
        job = {"key": "s-1", "token_env": "STREAM_TEST_TOKEN", "documents": str(docs_dir)}
        assert (await run_verification(ctx, job))["status"] == "complete"
    items = await _collect(read_events(redis_client, "s-1", block=None))
    assert items[0].data["event"] == "wizard.step_started"
    assert items[-1].data["event"] == "wizard.completed"
    assert {i.data["run_id"] for i in items} == {"kycflow:verify:s-1:1"}


def test_worker_settings_refuse_two_event_callbacks() -> None:
    from kycflow.integrations.arq import make_worker_settings

    with pytest.raises(kycflow.ConfigurationError, match="on_event"):
        make_worker_settings(
            base_url="http://127.0.0.1:1/api",
            redis="redis://127.0.0.1:1",
            publish_events=True,
            runner_options={"on_event": print},
        )


class _Broken:
    async def xadd(self, *args: Any, **kwargs: Any) -> Any:
        raise ConnectionError("redis is down")

    async def expire(self, *args: Any, **kwargs: Any) -> Any:
        raise AssertionError("not reached")

    async def xread(self, *args: Any, **kwargs: Any) -> Any:
        raise ConnectionError("redis is down")


async def test_redis_failures_are_typed_errors() -> None:
    publisher = RedisEventPublisher(_Broken())
    with pytest.raises(EventStreamError, match="ConnectionError"):
        await publisher.publish("k", {"event": "x", "step": 1})
    with pytest.raises(EventStreamError):
        await _collect(read_events(_Broken(), "k"))
    with pytest.raises(kycflow.ConfigurationError):
        RedisEventPublisher(_Broken(), maxlen=0)


async def test_a_foreign_entry_is_a_typed_error(redis_client: Any) -> None:
    await redis_client.xadd(stream_key("job-x"), {"other": "field"})
    with pytest.raises(EventStreamError, match="not a kycflow event"):
        await _collect(read_events(redis_client, "job-x", block=None))
