"""The real thing: the sandbox in its own process, arq workers in theirs, one SIGKILLed
mid-run. Every job must end complete, each step submitted exactly once, and the uploads the
dead worker's checkpoint held must be reused, not repeated."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from arq.connections import ArqRedis, RedisSettings, create_pool
from arq.jobs import Job
from arqkit import HERE, stop_process, worker_env

from kycflow import Checkpoint
from kycflow.integrations.arq import RedisCheckpointStore, enqueue_verification, job_id_for

pytestmark = [pytest.mark.redis, pytest.mark.timeout(60)]

JOBS = 8
JOB_TIMEOUT = 6.0  # arq re-runs a dead worker's job after JOB_TIMEOUT + 10 s


def start_worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "arq", "arq_test_worker.WorkerSettings"],
            cwd=HERE,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def tail_logs(directory: Path) -> str:
    return "\n".join(p.read_text(errors="replace")[-3000:] for p in directory.glob("worker-*"))


async def admin(http: aiohttp.ClientSession, method: str, url: str, body: Any = None) -> Any:
    async with http.request(method, url, json=body) as resp:
        assert resp.status < 300, await resp.text()
        return await resp.json()


async def owners(pool: ArqRedis, job_id: str) -> list[int]:
    return [int(pid) for pid in await pool.lrange(f"test:owner:{job_id}", 0, -1)]


async def wait_for_victim(
    pool: ArqRedis, store: RedisCheckpointStore, job_ids: list[str], pid: int
) -> str:
    """A job of worker ``pid`` that has committed a step and stored the next step's upload."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        for job_id in job_ids:
            if await owners(pool, job_id) != [pid]:
                continue
            cp = await store.load(job_id)
            if cp and not cp.done and cp.steps and cp.current and cp.current.uploads:
                return job_id
        await asyncio.sleep(0.02)
    pytest.fail("no job of the first worker reached the middle of a run in time")


async def test_a_killed_workers_jobs_resume_on_other_workers(
    redis_url: str, redis_client: Any, sandbox_process: str, docs_dir: Path, tmp_path: Path
) -> None:
    started = time.monotonic()
    root = sandbox_process
    workers: list[subprocess.Popen[bytes]] = []
    pool = await create_pool(RedisSettings.from_dsn(redis_url))
    store = RedisCheckpointStore(pool)
    try:
        async with aiohttp.ClientSession() as http:
            # Slow uploads and submits: a run takes a couple of seconds, so a kill lands mid-run.
            await admin(
                http,
                "POST",
                root + "/_sandbox/faults",
                {"rates": {"upload": {"slow": 1.0}, "submit": {"slow": 1.0}}, "slow_delay": 0.3},
            )
            users = (await admin(http, "POST", root + "/_sandbox/users", {"count": JOBS}))["users"]

            env = worker_env(
                KYCFLOW_TEST_BASE_URL=root + "/api",
                KYCFLOW_TEST_REDIS_URL=redis_url,
                KYCFLOW_TEST_JOB_TIMEOUT=str(JOB_TIMEOUT),
                KYCFLOW_TEST_MAX_JOBS="2",
                **{f"KYC_TOKEN_{i}": u["access_token"] for i, u in enumerate(users)},
            )
            victim_worker = start_worker(env, tmp_path / "worker-a.log")
            workers.append(victim_worker)
            workers.append(start_worker(env, tmp_path / "worker-b.log"))

            job_ids = []
            for i, user in enumerate(users):
                job = {
                    "key": user["email"],
                    "token_env": f"KYC_TOKEN_{i}",
                    "documents": str(docs_dir),
                }
                enqueued = await enqueue_verification(pool, job)
                assert enqueued is not None
                job_ids.append(enqueued.job_id)
            assert job_ids[0] == job_id_for(users[0]["email"])
            # Same key again: a no-op while the job exists.
            again = {"key": users[0]["email"], "token_env": "KYC_TOKEN_0", "documents": "x"}
            assert await enqueue_verification(pool, again) is None

            victim = await wait_for_victim(pool, store, job_ids, victim_worker.pid)
            os.kill(victim_worker.pid, signal.SIGKILL)
            victim_worker.wait(5)
            killed_at = time.monotonic()
            # The dead worker's checkpoints are frozen now: what they hold must be reused.
            frozen: dict[str, Checkpoint] = {}
            for job_id in job_ids:
                cp = await store.load(job_id)
                if await owners(pool, job_id) == [victim_worker.pid] and cp and not cp.done:
                    frozen[job_id] = cp
            assert victim in frozen
            workers.append(start_worker(env, tmp_path / "worker-c.log"))  # the replacement

            results = {}
            for job_id in job_ids:
                remaining = 55 - (time.monotonic() - started)
                results[job_id] = await Job(job_id, pool).result(timeout=remaining, poll_delay=0.2)

            records = await admin(http, "GET", root + "/_sandbox/records")
    finally:
        for proc in workers:
            stop_process(proc)
        await pool.aclose()

    logs = tail_logs(tmp_path)
    email_of = {job_id_for(u["email"]): u["email"] for u in users}
    for job_id, result in results.items():
        assert result["status"] == "complete", (result, logs)
        assert len(result["steps"]) == 3
        assert result["key"] == email_of[job_id]
    for job_id in frozen:
        result = results[job_id]
        assert result["job_try"] >= 2, result
        assert result["resumed"], result
    # The kill really left jobs for others: they were picked up after the in-progress expiry.
    assert time.monotonic() - killed_at < 40

    assert records["problems"] == []
    assert records["duplicates"] == []
    per_user = Counter(s["user"] for s in records["submissions"])
    assert per_user == dict.fromkeys(email_of.values(), 3)
    assert sum(s["completed"] for s in records["submissions"]) == JOBS
    submitted = {
        email: [f for s in records["submissions"] if s["user"] == email for f in s["files"]]
        for email in email_of.values()
    }
    uploads = Counter(u["user"] for u in records["uploads"])
    for job_id, cp in frozen.items():
        email = email_of[job_id]
        # Every file the checkpoint held was submitted as stored, never uploaded again.
        assert set(cp.uploaded_paths()) <= set(submitted[email]), (cp, submitted[email])
    victim_email = email_of[victim]
    assert uploads[victim_email] == 3, "the resumed step's upload was repeated"
    assert all(count <= 4 for count in uploads.values())  # at most one orphan per killed run
