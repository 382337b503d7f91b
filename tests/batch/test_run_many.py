"""run_many over the in-process sandbox: completion, isolation of failures, progress, the
concurrency bound, laziness, cancellation and checkpoints."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import kycflow
from kycflow import (
    AuthenticationError,
    BatchJob,
    BatchProgress,
    BatchResult,
    BearerToken,
    ConfigurationError,
    DirectoryProvider,
    DocumentError,
    MemoryCheckpointStore,
    WizardStep,
    run_many,
)
from kycflow.testing import Faults, Sandbox


def jobs_for(sandbox: Sandbox, count: int, docs: Path) -> list[BatchJob]:
    users = sandbox.create_users(count)
    return [
        BatchJob(key=u.email, auth=BearerToken(u.access_token), provider=DirectoryProvider(docs))
        for u in users
    ]


async def test_fifty_users_at_concurrency_ten_all_complete(
    sandbox: Sandbox, client: kycflow.Client, docs_dir: Path
) -> None:
    jobs = jobs_for(sandbox, 50, docs_dir)
    progress: list[BatchProgress] = []

    results = await asyncio.wait_for(
        run_many(jobs, client=client, concurrency=10, on_progress=progress.append), 30
    )

    assert [r.key for r in results] == [j.key for j in jobs]
    assert [r.index for r in results] == list(range(50))
    assert all(r.ok and r.status == "complete" for r in results), [r.error for r in results]
    for r in results:
        assert r.result is not None
        assert r.result.done
        assert [s.type_id for s in r.result.steps] == [2, 3, 4]
    sandbox.assert_each_step_submitted_once()
    assert len(sandbox.completed_procedures()) == 50
    assert {s.user for s in sandbox.submissions()} == {j.key for j in jobs}
    assert sandbox.duplicates() == []
    assert progress[0] == BatchProgress(0, 0, 50)
    assert progress[-1] == BatchProgress(50, 0, 50)
    assert [p.finished for p in progress] == list(range(51))
    # Documented: a first call before any job (to draw the bar), then one per finished job,
    # each with the time so far, the rate and an ETA.
    assert progress[0].rate is None
    assert progress[0].eta is None
    elapsed = [p.elapsed for p in progress]
    assert elapsed == sorted(elapsed)
    assert elapsed[-1] > 0
    middle = progress[25]
    assert middle.rate == pytest.approx(25 / middle.elapsed)
    assert middle.eta == pytest.approx(25 / middle.rate)
    assert progress[-1].eta == 0.0


def test_progress_rate_and_eta() -> None:
    assert BatchProgress(0, 0, 10, elapsed=3.0).rate is None
    halfway = BatchProgress(3, 1, 8, elapsed=2.0)
    assert halfway.rate == 2.0
    assert halfway.eta == 2.0
    assert BatchProgress(3, 1, None, elapsed=2.0).eta is None
    assert BatchProgress(8, 0, 8, elapsed=4.0).eta == 0.0
    # The counts make the progress: equal whatever the clock said.
    assert BatchProgress(1, 0, 2, elapsed=1.0) == BatchProgress(1, 0, 2, elapsed=9.0)


async def test_a_failing_job_does_not_cancel_the_others(
    sandbox: Sandbox, client: kycflow.Client, docs_dir: Path, tmp_path: Path
) -> None:
    jobs = jobs_for(sandbox, 8, docs_dir)
    bad_token = BatchJob(key="bad-token", auth=BearerToken("at_wrong"), provider=jobs[0].provider)
    no_docs_user = sandbox.create_user()
    no_docs = BatchJob(
        key="no-docs",
        auth=BearerToken(no_docs_user.access_token),
        provider=DirectoryProvider(tmp_path / "missing"),
    )
    all_jobs = [*jobs[:3], bad_token, *jobs[3:6], no_docs, *jobs[6:]]
    progress: list[BatchProgress] = []
    finished: list[str] = []

    results = await asyncio.wait_for(
        run_many(
            all_jobs,
            client=client,
            concurrency=4,
            on_progress=progress.append,
            on_result=lambda r: finished.append(r.key),
        ),
        30,
    )

    by_key = {r.key: r for r in results}
    assert isinstance(by_key["bad-token"].error, AuthenticationError)
    assert isinstance(by_key["no-docs"].error, DocumentError)
    # Found before any request, and named.
    assert str(by_key["no-docs"].error) == f"documents directory not found: {tmp_path / 'missing'}"
    assert sandbox.requests(user=no_docs_user.email) == []
    assert not by_key["bad-token"].ok
    assert by_key["bad-token"].result is None
    assert [r.key for r in results if r.ok] == [j.key for j in jobs]
    assert sorted(finished) == sorted(j.key for j in all_jobs)
    assert progress[-1] == BatchProgress(done=8, failed=2, total=10)
    assert len(sandbox.completed_procedures()) == 8
    # The failure's JSON form names the error, never the token.
    as_dict = by_key["bad-token"].to_dict()
    assert as_dict["status"] == "failed"
    assert as_dict["error"]["type"] == "AuthenticationError"
    assert "at_wrong" not in repr(as_dict)
    assert "at_wrong" not in repr(bad_token)


class CountingClient:
    """Wraps a Client: counts jobs in flight from ``with_auth`` (a job's start) to its result."""

    def __init__(self, client: kycflow.Client, full_at: int = 0) -> None:
        self.client = client
        self.in_flight = 0
        self.max_in_flight = 0
        self.full_at = full_at
        self.full = asyncio.Event()

    def with_auth(self, auth: Any) -> kycflow.Client:
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        if self.full_at and self.in_flight >= self.full_at:
            self.full.set()
        return self.client.with_auth(auth)

    def finished(self, result: BatchResult) -> None:
        self.in_flight -= 1


async def test_the_concurrency_bound_is_respected(
    sandbox: Sandbox, client: kycflow.Client, docs_dir: Path
) -> None:
    # Slow uploads keep every run in flight long enough for the pool to fill.
    sandbox.set_faults(Faults(rates={"upload": {"slow": 1.0}}, slow_delay=0.05))
    jobs = jobs_for(sandbox, 30, docs_dir)
    counting = CountingClient(client)

    results = await asyncio.wait_for(
        run_many(jobs, client=counting, concurrency=7, on_result=counting.finished), 30
    )

    assert all(r.ok for r in results)
    assert counting.max_in_flight == 7
    assert counting.in_flight == 0


class InstantWizard:
    async def start(self) -> WizardStep:
        await asyncio.sleep(0)
        return WizardStep(code=202, done=True, uuid="u")

    async def submit(self, uuid: str, document_type_id: int, files: list[str], /) -> WizardStep:
        raise AssertionError("nothing to submit")


class InstantClient:
    """A client whose wizard is already done: isolates run_many's own costs."""

    wizard = InstantWizard()
    files: Any = None

    def with_auth(self, auth: Any) -> InstantClient:
        return self


async def test_a_pool_of_workers_consumes_jobs_lazily() -> None:
    pulled = 0
    max_tasks = 0
    max_ahead = 0

    def jobs() -> Iterator[BatchJob]:
        nonlocal pulled
        for i in range(3000):
            pulled += 1
            yield BatchJob(key=f"k{i}", auth=None, provider=kycflow.MemoryProvider({}))

    def on_progress(p: BatchProgress) -> None:
        nonlocal max_tasks, max_ahead
        max_tasks = max(max_tasks, len(asyncio.all_tasks()))
        max_ahead = max(max_ahead, pulled - p.finished)

    async with asyncio.timeout(30):
        results = await run_many(
            jobs(), client=InstantClient(), concurrency=20, on_progress=on_progress
        )

    assert len(results) == 3000
    assert all(r.ok for r in results)
    assert [r.key for r in results[:3]] == ["k0", "k1", "k2"]
    # 20 workers plus the test's own task: never one task per job.
    assert max_tasks <= 21
    assert max_ahead <= 20


def _is_client_task(task: asyncio.Task[Any]) -> bool:
    code = getattr(task.get_coro(), "cr_code", None)
    filename = code.co_filename if code is not None else ""
    return "aiohttp/web" not in filename and "kycflow/testing" not in filename


async def test_cancelling_run_many_cancels_every_run_in_flight(
    sandbox: Sandbox, client: kycflow.Client, docs_dir: Path
) -> None:
    sandbox.set_faults(Faults(rates={"submit": {"slow": 1.0}}, slow_delay=0.5))
    jobs = jobs_for(sandbox, 20, docs_dir)
    counting = CountingClient(client, full_at=5)
    task = asyncio.create_task(
        run_many(jobs, client=counting, concurrency=5, on_result=counting.finished)
    )
    await asyncio.wait_for(counting.full.wait(), 10)
    await asyncio.sleep(0.2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 5)

    # Only the in-process server's own tasks may remain: no worker, run or upload of ours.
    ours = [t for t in asyncio.all_tasks() if _is_client_task(t)]
    assert ours == [asyncio.current_task()]
    await asyncio.sleep(0.6)  # requests already on the server finish there
    seen = len(sandbox.requests())
    await asyncio.sleep(0.7)
    assert len(sandbox.requests()) == seen, "a run kept going after the cancel"
    assert counting.max_in_flight == 5
    assert len(sandbox.completed_procedures()) < 20


async def test_checkpoints_are_kept_per_job_key(
    sandbox: Sandbox, client: kycflow.Client, docs_dir: Path
) -> None:
    jobs = jobs_for(sandbox, 3, docs_dir)
    store = MemoryCheckpointStore()

    results = await run_many(
        jobs, client=client, concurrency=2, checkpoint_store=store, checkpoint_prefix="b1:"
    )

    assert all(r.ok for r in results)
    dumped = store.dump()
    assert sorted(dumped) == sorted(f"b1:{j.key}" for j in jobs)
    assert all(cp["done"] and len(cp["steps"]) == 3 for cp in dumped.values())


async def test_repeated_keys_and_bad_arguments(
    sandbox: Sandbox, client: kycflow.Client, docs_dir: Path
) -> None:
    (job,) = jobs_for(sandbox, 1, docs_dir)
    results = await run_many([job, job], client=client, concurrency=2)
    assert [r.ok for r in results] == [True, False]
    assert isinstance(results[1].error, ConfigurationError)

    with pytest.raises(ConfigurationError):
        await run_many([job], client=client, concurrency=0)
    with pytest.raises(ConfigurationError):
        await run_many([job], client=client, runner_options={"checkpoint_key": "x"})


async def test_events_are_forwarded_with_the_job_key(
    sandbox: Sandbox, client: kycflow.Client, docs_dir: Path
) -> None:
    jobs = jobs_for(sandbox, 2, docs_dir)
    seen: list[tuple[str, str]] = []

    async def on_event(key: str, event: kycflow.WizardEvent) -> None:
        seen.append((key, event.name))

    await run_many(jobs, client=client, on_event=on_event)

    for job in jobs:
        names = [name for key, name in seen if key == job.key]
        assert names.count("wizard.step_submitted") == 3
        assert names[-1] == "wizard.completed"


async def test_a_job_without_auth_runs_with_the_clients_own(
    sandbox: Sandbox, docs_dir: Path
) -> None:
    user = sandbox.create_user()
    job = BatchJob(key="own", auth=None, provider=DirectoryProvider(docs_dir))
    async with kycflow.Client(sandbox.base_url, auth=BearerToken(user.access_token)) as own:
        (result,) = await run_many([job], client=own)
    assert result.ok, result.error
    assert len(sandbox.completed_procedures(user)) == 1
