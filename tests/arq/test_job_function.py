"""The job function, the worker settings and the enqueue helper, in-process: a real
redis-server, the in-process sandbox, and arq's own Worker in burst mode."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from arq.connections import ArqRedis, RedisSettings, create_pool
from arq.jobs import Job
from arq.worker import Retry, create_worker

from kycflow import BearerToken, ConfigurationError, DirectoryProvider
from kycflow.integrations.arq import (
    CTX_KEY,
    JOB_FUNCTION,
    RedisCheckpointStore,
    WorkerState,
    enqueue_verification,
    job_id_for,
    make_worker_settings,
    run_verification,
)
from kycflow.testing import Faults, Sandbox

pytestmark = [pytest.mark.redis, pytest.mark.timeout(60)]


@pytest_asyncio.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    async with Sandbox(throttle_signin=False) as sb:
        yield sb


@pytest_asyncio.fixture
async def pool(redis_url: str, redis_client: Any) -> AsyncIterator[ArqRedis]:
    arq_pool = await create_pool(RedisSettings.from_dsn(redis_url))
    try:
        yield arq_pool
    finally:
        await arq_pool.aclose()


async def started(settings: type, pool: ArqRedis, **ctx: Any) -> dict[str, Any]:
    context: dict[str, Any] = {"redis": pool, "job_id": "job-1", "job_try": 1, **ctx}
    await settings.on_startup(context)  # type: ignore[attr-defined]
    return context


# arq's Worker.close() calls redis's deprecated close(): not ours to fix.
@pytest.mark.filterwarnings("ignore:Call to deprecated close:DeprecationWarning")
async def test_worker_settings_drive_jobs_through_arq(
    sandbox: Sandbox,
    pool: ArqRedis,
    redis_url: str,
    docs_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    users = sandbox.create_users(3)
    for i, user in enumerate(users):
        monkeypatch.setenv(f"ARQ_TEST_TOKEN_{i}", user.access_token)
    settings = make_worker_settings(
        base_url=sandbox.base_url,
        redis=redis_url,
        documents_root=str(docs_dir.parent),
        job_timeout=20,
        max_tries=3,
        poll_delay=0.05,
    )
    assert settings.job_timeout == 20  # type: ignore[attr-defined]
    assert settings.retry_jobs is True  # type: ignore[attr-defined]
    assert settings.allow_abort_jobs is True  # type: ignore[attr-defined]
    for i, user in enumerate(users):
        job = {"key": user.email, "token_env": f"ARQ_TEST_TOKEN_{i}", "documents": "docs"}
        assert await enqueue_verification(pool, job) is not None

    worker = create_worker(settings, burst=True, handle_signals=False, redis_pool=pool)
    try:
        await worker.async_run()
    finally:
        await worker.close()

    assert worker.jobs_complete == 3
    assert worker.jobs_failed == 0
    for user in users:
        result = await Job(job_id_for(user.email), pool).result(timeout=5)
        assert result["status"] == "complete"
        assert result["key"] == user.email
        assert result["job_try"] == 1
        assert len(result["steps"]) == 3
        cp = await RedisCheckpointStore(pool).load(job_id_for(user.email))
        assert cp is not None
        assert cp.done
    sandbox.assert_each_step_submitted_once()
    assert len(sandbox.completed_procedures()) == 3


async def test_startup_shares_one_client_and_shutdown_closes_it(
    sandbox: Sandbox, pool: ArqRedis
) -> None:
    calls: list[str] = []

    async def mine(ctx: dict[str, Any]) -> None:
        calls.append("up" if CTX_KEY in ctx else "?")

    settings = make_worker_settings(base_url=sandbox.base_url, redis=None, on_startup=mine)
    ctx = await started(settings, pool)
    state = ctx[CTX_KEY]
    assert isinstance(state, WorkerState)
    assert calls == ["up"]
    assert state.client.base_url == sandbox.base_url
    assert state.store.redis is pool
    assert state.runner_options["deadline"] == pytest.approx(270.0)
    functions = settings.functions  # type: ignore[attr-defined]
    assert [f.name for f in functions] == [JOB_FUNCTION]
    await settings.on_shutdown(ctx)  # type: ignore[attr-defined]
    assert CTX_KEY not in ctx


async def test_transient_errors_retry_until_the_last_try(sandbox: Sandbox, pool: ArqRedis) -> None:
    user = sandbox.create_user()
    sandbox.set_faults(Faults().add_window("5xx", route="wizard", seconds=60, status=503))

    def auth(ctx: Any, job: Any) -> BearerToken:
        return BearerToken(user.access_token)

    settings = make_worker_settings(
        base_url=sandbox.base_url,
        resolve_auth=auth,
        client_options={"max_retries": 0},
        # Inside a run, transient failures are retried until the run's deadline.
        runner_options={"deadline": 0.5},
        max_tries=2,
        retry_delay=0.25,
    )
    ctx = await started(settings, pool)
    job = {"key": "u", "documents": "/nowhere"}
    try:
        with pytest.raises(Retry) as info:
            await run_verification(ctx, job)
        assert info.value.defer_score == 250
        ctx["job_try"] = 2
        last = await run_verification(ctx, job)
    finally:
        await settings.on_shutdown(ctx)  # type: ignore[attr-defined]
    assert last["status"] == "failed"
    assert last["error"]["type"] == "WizardDeadlineError"
    assert "ServerError" in last["error"]["message"]  # the last transient cause, named
    assert last["job_try"] == 2


async def test_hooks_resolve_credentials_and_documents(
    sandbox: Sandbox, pool: ArqRedis, docs_dir: Path
) -> None:
    user = sandbox.create_user()
    vault = {"user-42": user.access_token}
    seen: list[str] = []

    async def auth(ctx: Any, job: Any) -> BearerToken:
        return BearerToken(vault[job["meta"]["ref"]])

    def provider(ctx: Any, job: Any) -> DirectoryProvider:
        seen.append(ctx["job_id"])
        return DirectoryProvider(docs_dir)

    settings = make_worker_settings(
        base_url=sandbox.base_url, resolve_auth=auth, resolve_provider=provider
    )
    ctx = await started(settings, pool, job_id="hook-job")
    try:
        result = await run_verification(
            ctx, {"key": "k", "documents": "ignored", "meta": {"ref": "user-42"}}
        )
    finally:
        await settings.on_shutdown(ctx)  # type: ignore[attr-defined]
    assert result["status"] == "complete", result
    assert seen == ["hook-job"]
    assert len(sandbox.completed_procedures(user)) == 1


async def test_bad_jobs_fail_without_a_request(sandbox: Sandbox, pool: ArqRedis) -> None:
    user = sandbox.create_user()
    settings = make_worker_settings(base_url=sandbox.base_url)
    ctx = await started(settings, pool)
    try:
        raw_token = await run_verification(
            ctx, {"key": "a", "token": user.access_token, "documents": "d"}
        )
        no_credentials = await run_verification(ctx, {"key": "b", "documents": "d"})
        not_a_job = await run_verification(ctx, ["nope"])  # type: ignore[arg-type]
    finally:
        await settings.on_shutdown(ctx)  # type: ignore[attr-defined]
    no_state = await run_verification({"job_id": "x"}, {"key": "c", "documents": "d"})

    assert raw_token["status"] == "failed"
    assert raw_token["error"]["type"] == "ConfigurationError"
    assert user.access_token not in repr(raw_token)
    assert "token_env" in no_credentials["error"]["message"]
    assert not_a_job["error"]["type"] == "ConfigurationError"
    assert no_state["error"]["message"].startswith("the kycflow worker state is missing")
    assert sandbox.requests() == []


async def test_enqueueing_is_idempotent_and_checked(pool: ArqRedis) -> None:
    job = {"key": "alice", "token_env": "T", "documents": "d"}
    first = await enqueue_verification(pool, job)
    assert first is not None
    assert first.job_id == "kycflow:verify:alice"
    assert await enqueue_verification(pool, job) is None
    custom = await enqueue_verification(pool, job, job_id="custom-1")
    assert custom is not None
    assert custom.job_id == "custom-1"
    info = await first.info()
    assert info is not None
    assert info.function == JOB_FUNCTION
    assert info.args == (job,)

    with pytest.raises(ConfigurationError, match="raw token"):
        await enqueue_verification(pool, {"key": "b", "token": "secret-xyz", "documents": "d"})
    with pytest.raises(ConfigurationError, match="JSON"):
        await enqueue_verification(pool, {"key": "b", "documents": "d", "meta": {1, 2}})
    with pytest.raises(ConfigurationError, match="documents"):
        await enqueue_verification(pool, {"key": "b"})
    assert await pool.zcard("arq:queue") == 2


async def test_a_job_whose_key_another_worker_holds_is_deferred_and_submits_nothing(
    sandbox: Sandbox, pool: ArqRedis, docs_dir: Path
) -> None:
    user = sandbox.create_user()

    def auth(ctx: Any, job: Any) -> BearerToken:
        return BearerToken(user.access_token)

    settings = make_worker_settings(
        base_url=sandbox.base_url, resolve_auth=auth, max_tries=2, retry_delay=0.25
    )
    ctx = await started(settings, pool)
    job = {"key": "u", "documents": str(docs_dir)}
    other_worker = RedisCheckpointStore(pool)  # same Redis, same prefix: the key's lease
    try:
        async with other_worker.lease("job-1", "another-worker"):
            with pytest.raises(Retry):
                await run_verification(ctx, job)
            ctx["job_try"] = 2
            last = await run_verification(ctx, job)
            assert last["status"] == "failed"
            assert last["error"]["type"] == "RunInProgressError"
        assert sandbox.requests(user=user.email) == []
        # The lease released, the job runs.
        ctx["job_try"] = 1
        done = await run_verification(ctx, job)
    finally:
        await settings.on_shutdown(ctx)  # type: ignore[attr-defined]
    assert done["status"] == "complete"
