"""Every log line of a run carries its run id, and in a batch or an arq job the job key, so
that a run's HTTP lines can be found (structlog contextvars)."""

from __future__ import annotations

import logging
import shutil
from collections.abc import Iterator, MutableMapping
from pathlib import Path
from typing import Any

import pytest
import structlog

import kycflow
from kycflow.integrations.arq import CTX_KEY, WorkerState, run_verification
from kycflow.testing import Sandbox

ASSETS = Path(kycflow.__file__).parent / "assets"
FILES = {
    2: ("passport.jpg", (ASSETS / "passport.jpg").read_bytes()),
    3: ("selfie.jpg", (ASSETS / "selfie.jpg").read_bytes()),
    4: ("proof_of_address.pdf", (ASSETS / "proof_of_address.pdf").read_bytes()),
}


@pytest.fixture
def events() -> Iterator[list[dict[str, Any]]]:
    """Every structlog event at DEBUG, after the contextvars are merged in."""
    seen: list[dict[str, Any]] = []

    def keep(logger: Any, method: str, event: MutableMapping[str, Any]) -> Any:
        seen.append(dict(event))
        raise structlog.DropEvent

    structlog.configure(
        processors=[structlog.contextvars.merge_contextvars, keep],
        wrapper_class=structlog.make_filtering_bound_logger(logging.DEBUG),
        cache_logger_on_first_use=False,
    )
    try:
        yield seen
    finally:
        structlog.reset_defaults()


def _client(sb: Sandbox) -> kycflow.Client:
    return kycflow.Client(sb.base_url)


async def test_every_line_of_a_run_carries_its_run_id(
    events: list[dict[str, Any]], kycflow_sandbox: Sandbox
) -> None:
    user = kycflow_sandbox.create_user("logs@sandbox.test")
    async with _client(kycflow_sandbox) as client:
        view = client.with_auth(kycflow.BearerToken(user.access_token))
        await view.verifications.list()  # outside a run: no run id
        before, served = len(events), len(kycflow_sandbox.requests())
        await kycflow.WizardRunner(view, kycflow.MemoryProvider(FILES), run_id="run-logs").run()
        after, served = len(events), len(kycflow_sandbox.requests()) - served
        await view.verifications.list()
    assert all("run_id" not in e for e in events[:before] + events[after:])
    run_lines = events[before:after]
    http = [e for e in run_lines if e["event"] == "http.request"]
    assert len(http) == served >= 7  # the wizard, then an upload and a submit per step (at least)
    assert {e["run_id"] for e in run_lines} == {"run-logs"}
    assert {e["path"] for e in http} == {
        "/v2/my/verifications/wizard",
        "/v2/my/files",
        "/v2/my/verifications",
    }


async def test_batch_lines_carry_the_job_key(
    events: list[dict[str, Any]], kycflow_sandbox: Sandbox
) -> None:
    users = kycflow_sandbox.create_users(3)
    jobs = [
        kycflow.BatchJob(
            key=f"job-{i}",
            auth=kycflow.BearerToken(u.access_token),
            provider=kycflow.MemoryProvider(FILES),
        )
        for i, u in enumerate(users)
    ]
    async with _client(kycflow_sandbox) as client:
        results = await kycflow.run_many(jobs, client=client, concurrency=3)
    assert all(r.ok for r in results)
    http = [e for e in events if e["event"] == "http.request"]
    assert len(http) == len(kycflow_sandbox.requests()) >= 21
    # The three runs interleave, yet each line names its job and its run, one run per job.
    by_job: dict[str, set[str]] = {}
    for line in http:
        by_job.setdefault(line["job_key"], set()).add(line["run_id"])
    assert sorted(by_job) == ["job-0", "job-1", "job-2"]
    assert all(len(runs) == 1 for runs in by_job.values())
    assert len({run for runs in by_job.values() for run in runs}) == 3
    assert all("job_key" in e for e in events if e["event"].startswith("wizard."))


async def test_arq_job_lines_carry_the_job_key(
    events: list[dict[str, Any]],
    kycflow_sandbox: Sandbox,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    user = kycflow_sandbox.create_user("arq-logs@sandbox.test")
    monkeypatch.setenv("LOG_TEST_TOKEN", user.access_token)
    docs = tmp_path / "docs"
    docs.mkdir()
    for name in ("passport.jpg", "selfie.jpg", "proof_of_address.pdf"):
        shutil.copy(ASSETS / name, docs / name)
    async with _client(kycflow_sandbox) as client:
        state = WorkerState(client=client, store=kycflow.MemoryCheckpointStore())  # type: ignore[arg-type]
        ctx: dict[str, Any] = {"job_id": "kycflow:verify:k-1", "job_try": 2, CTX_KEY: state}
        job = {"key": "k-1", "token_env": "LOG_TEST_TOKEN", "documents": str(docs)}
        outcome = await run_verification(ctx, job)
    assert outcome["status"] == "complete", outcome
    http = [e for e in events if e["event"] == "http.request"]
    assert len(http) == len(kycflow_sandbox.requests(user=user)) >= 7
    assert {(e["job_key"], e["job_id"], e["job_try"], e["run_id"]) for e in http} == {
        ("k-1", "kycflow:verify:k-1", 2, "kycflow:verify:k-1:2")
    }


async def test_the_stdlib_fallback_merges_the_context(
    kycflow_sandbox: Sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    structlog.reset_defaults()  # an app that never configured structlog
    user = kycflow_sandbox.create_user("fallback@sandbox.test")
    with caplog.at_level(logging.DEBUG, logger="kycflow"):
        async with _client(kycflow_sandbox) as client:
            view = client.with_auth(kycflow.BearerToken(user.access_token))
            runner = kycflow.WizardRunner(view, kycflow.MemoryProvider(FILES), run_id="fb-1")
            await runner.run()
    lines = [r.getMessage() for r in caplog.records if r.name == "kycflow"]
    http = [line for line in lines if line.startswith("event='http.request'")]
    assert len(http) == len(kycflow_sandbox.requests(user=user)) >= 7
    assert all("run_id='fb-1'" in line for line in lines), lines
