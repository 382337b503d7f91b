"""RedisCheckpointStore against a real redis-server."""

from __future__ import annotations

from typing import Any

import pytest
import redis.asyncio

from kycflow import Checkpoint, CheckpointError, CheckpointStore, ConfigurationError
from kycflow.integrations.arq import RedisCheckpointStore
from kycflow.wizard.checkpoint import CompletedStep, StepInProgress, UploadedFile

pytestmark = pytest.mark.redis


def sample() -> Checkpoint:
    return Checkpoint(
        key="job-1",
        run_id="r1",
        uuid="proc-uuid",
        steps=[CompletedStep(type_id=2, type_description="Passport", files=["u1/a.jpg"])],
        current=StepInProgress(
            signature='["proc-uuid",200]',
            type_id=3,
            uploads=[UploadedFile(index=0, name="selfie.jpg", path="u1/b.jpg")],
            submit_in_flight=True,
            submitted_files=["u1/b.jpg"],
        ),
    )


async def test_round_trip_ttl_and_delete(redis_client: Any) -> None:
    store = RedisCheckpointStore(redis_client, prefix="t:cp:", ttl=120)
    assert isinstance(store, CheckpointStore)
    assert await store.load("job-1") is None

    await store.save("job-1", sample())

    loaded = await store.load("job-1")
    assert loaded == sample()
    assert loaded is not None
    assert loaded.submit_in_flight
    assert loaded.uploaded_paths() == ["u1/a.jpg", "u1/b.jpg"]
    assert await redis_client.exists("t:cp:job-1") == 1
    assert 0 < await redis_client.pttl("t:cp:job-1") <= 120_000

    done = sample()
    done.done = True
    await store.save("job-1", done)  # replaces
    again = await store.load("job-1")
    assert again is not None
    assert again.done

    await store.delete("job-1")
    await store.delete("job-1")  # absent: no error
    assert await store.load("job-1") is None


async def test_no_ttl_keeps_the_key(redis_client: Any) -> None:
    store = RedisCheckpointStore(redis_client, ttl=None)
    await store.save("k", sample())
    assert await redis_client.pttl("kycflow:checkpoint:k") == -1
    assert repr(store) == "RedisCheckpointStore(prefix='kycflow:checkpoint:', ttl=None)"


async def test_invalid_data_and_a_dead_server_are_checkpoint_errors(redis_client: Any) -> None:
    store = RedisCheckpointStore(redis_client)
    await redis_client.set("kycflow:checkpoint:bad", b"{not json")
    with pytest.raises(CheckpointError, match="invalid data") as info:
        await store.load("bad")
    assert info.value.key == "bad"

    dead = redis.asyncio.Redis(host="127.0.0.1", port=1, socket_connect_timeout=1)
    try:
        broken = RedisCheckpointStore(dead)
        with pytest.raises(CheckpointError, match="cannot load"):
            await broken.load("x")
        with pytest.raises(CheckpointError, match="cannot save"):
            await broken.save("x", sample())
        with pytest.raises(CheckpointError, match="cannot delete"):
            await broken.delete("x")
    finally:
        await dead.aclose()

    with pytest.raises(ConfigurationError):
        RedisCheckpointStore(redis_client, ttl=0)
