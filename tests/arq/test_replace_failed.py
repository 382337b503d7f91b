"""``enqueue_verification(..., replace_failed=True)``: a key whose job failed for a reason the
user fixed runs again at once, resuming from its checkpoint. Real redis-server, the in-process
sandbox, arq's own Worker in burst mode."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from arq.connections import ArqRedis, RedisSettings, create_pool
from arq.jobs import Job
from arq.worker import create_worker
from arqkit import ASSETS
from pydantic import TypeAdapter

from kycflow._schema import ArqJobResultDict
from kycflow.integrations.arq import enqueue_verification, job_id_for, make_worker_settings
from kycflow.testing import Sandbox

pytestmark = [
    pytest.mark.redis,
    pytest.mark.timeout(60),
    # arq's Worker.close() calls redis's deprecated close(): not ours to fix.
    pytest.mark.filterwarnings("ignore:Call to deprecated close:DeprecationWarning"),
]


@pytest_asyncio.fixture
async def pool(redis_url: str, redis_client: Any) -> AsyncIterator[ArqRedis]:
    arq_pool = await create_pool(RedisSettings.from_dsn(redis_url))
    try:
        yield arq_pool
    finally:
        await arq_pool.aclose()


async def drain(settings: type, pool: ArqRedis) -> None:
    worker = create_worker(settings, burst=True, handle_signals=False, redis_pool=pool)
    try:
        await worker.async_run()
    finally:
        await worker.close()


async def result_of(key: str, pool: ArqRedis) -> dict[str, Any]:
    result: dict[str, Any] = await Job(job_id_for(key), pool).result(timeout=5)
    TypeAdapter(ArqJobResultDict).validate_python(result)
    return result


async def test_a_failed_key_runs_again_from_its_checkpoint(
    pool: ArqRedis, redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with Sandbox(throttle_signin=False) as sandbox:
        user = sandbox.create_user()
        monkeypatch.setenv("REPLACE_TEST_TOKEN", user.access_token)
        docs = tmp_path / "alice"
        docs.mkdir()
        shutil.copy(ASSETS / "passport.jpg", docs / "passport.jpg")  # the selfie is missing
        settings = make_worker_settings(
            base_url=sandbox.base_url, redis=redis_url, documents_root=str(tmp_path),
            job_timeout=20, poll_delay=0.05,
        )  # fmt: skip
        job = {"key": "alice", "token_env": "REPLACE_TEST_TOKEN", "documents": "alice"}

        assert await enqueue_verification(pool, job) is not None
        await drain(settings, pool)
        failed = await result_of("alice", pool)
        assert failed["status"] == "failed"
        assert failed["error"]["type"] == "MissingDocumentError"
        assert [t["id"] for t in failed["error"]["requested"]] == [3]

        # Without the flag the failed result dedupes the key, for keep_result (a day).
        assert await enqueue_verification(pool, job) is None
        shutil.copy(ASSETS / "selfie.jpg", docs / "selfie.jpg")
        shutil.copy(ASSETS / "proof_of_address.pdf", docs / "proof_of_address.pdf")
        again = await enqueue_verification(pool, job, replace_failed=True)
        assert again is not None
        assert again.job_id == job_id_for("alice")
        # Queued now: a second replace does nothing.
        assert await enqueue_verification(pool, job, replace_failed=True) is None
        await drain(settings, pool)

        done = await result_of("alice", pool)
        assert done["status"] == "complete"
        assert done["resumed"] is True
        assert [s["type_id"] for s in done["steps"]] == [2, 3, 4]
        # The passport step of the failed run was kept: submitted once, uploaded once.
        sandbox.assert_each_step_submitted_once()
        assert [u.filename for u in sandbox.uploads(user)].count("passport.jpg") == 1
        assert len(sandbox.completed_procedures(user)) == 1
        # A completed key is never replaced.
        assert await enqueue_verification(pool, job, replace_failed=True) is None
        assert (await result_of("alice", pool))["status"] == "complete"


async def test_replace_failed_with_nothing_kept_just_enqueues(pool: ArqRedis) -> None:
    job = {"key": "bob", "token_env": "T", "documents": "d"}
    assert await enqueue_verification(pool, job, replace_failed=True) is not None
    assert await enqueue_verification(pool, job, replace_failed=True) is None
    assert await pool.zcard("arq:queue") == 1
