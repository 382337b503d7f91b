"""Exactly-once submits, retried uploads, resume from a checkpoint, and cancellation."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from runner_fakes import ALL_DOCS, JPEG, PDF, FakeClock, FakeServer, SimulatedCrash

from kycflow import (
    APITimeoutError,
    CallableProvider,
    Checkpoint,
    Document,
    DocumentType,
    MemoryCheckpointStore,
    WizardDeadlineError,
    WizardRunner,
)
from kycflow.wizard.events import FileUploaded, Retrying, StepSubmitted, WizardEvent


def _all_committed_once(server: FakeServer, steps: int = 3) -> None:
    user = server.user()
    assert len(user.committed) == steps
    assert len(set(user.committed)) == steps
    assert user.duplicates == []
    assert user.rejected == []


async def test_ambiguous_submit_that_committed_is_not_resent() -> None:
    server = FakeServer()
    user = server.user()
    user.submit_faults.extend(["commit_then_unknown"])
    events: list[WizardEvent] = []
    result = await WizardRunner(server.client(), ALL_DOCS, on_event=events.append).run()
    _all_committed_once(server)
    assert user.submit_calls == 3
    assert result.steps[0].reconciled is True
    assert [s.reconciled for s in result.steps[1:]] == [False, False]
    assert result.retries == 0
    first_submitted = next(e for e in events if isinstance(e, StepSubmitted))
    assert first_submitted.reconciled is True


async def test_ambiguous_submit_that_did_not_commit_is_resent_with_the_same_files() -> None:
    server = FakeServer()
    user = server.user()
    user.submit_faults.extend(["unknown"])
    events: list[WizardEvent] = []
    result = await WizardRunner(server.client(), ALL_DOCS, on_event=events.append).run()
    _all_committed_once(server)
    assert user.submit_calls == 4
    # The retried step reused the stored path of its file: nothing was uploaded again.
    assert user.upload_calls == 3
    assert len(user.stored) == 3
    assert user.committed[0][2] == result.steps[0].files
    assert result.retries == 1
    retrying = [e for e in events if isinstance(e, Retrying)]
    assert [(e.action, e.attempt, e.reason, e.type_id) for e in retrying] == [
        ("submit", 2, "APITimeoutError", 2)
    ]


async def test_unknown_outcomes_are_reconciled_until_the_run_deadline(clock: FakeClock) -> None:
    server = FakeServer()
    user = server.user()
    user.submit_faults.extend(["unknown"] * 1000)
    store = MemoryCheckpointStore()
    runner = WizardRunner(
        server.client(), ALL_DOCS, deadline=60, checkpoint_store=store, checkpoint_key="k"
    )
    with pytest.raises(WizardDeadlineError) as info:
        await runner.run()
    # The deadline, not a count, ended it; the error names the last cause.
    assert isinstance(info.value.last_error, APITimeoutError)
    assert "APITimeoutError" in str(info.value)
    assert user.committed == []
    # Settle delays grow per attempt (2, 4, 8, 16 s... plus at most 10 % jitter) and the fake
    # clock's waits add up to no more than the deadline.
    assert [round(w) for w in clock.waits[:3]] == [2, 4, 9] or [
        int(w) for w in clock.waits[:3]
    ] == [2, 4, 8]
    assert all(b >= a for a, b in zip(clock.waits, clock.waits[1:], strict=False))
    assert sum(clock.waits) <= 60
    assert user.submit_calls == len(clock.waits) + 1
    cp = await store.load("k")
    assert cp is not None
    assert cp.current is not None
    # The last submit's outcome is unknown: the checkpoint says so, for the next run.
    assert cp.current.submit_in_flight is True
    assert [u.path for u in cp.current.uploads] == list(user.stored)


async def test_upload_with_unknown_outcome_is_uploaded_again() -> None:
    server = FakeServer()
    user = server.user()
    user.upload_faults.extend(["store_then_unknown", "unknown"])
    result = await WizardRunner(server.client(), ALL_DOCS).run()
    _all_committed_once(server)
    assert user.upload_calls == 5
    # One orphan (stored, then reported unknown) that no submit references.
    assert len(user.stored) == 4
    referenced = {p for s in result.steps for p in s.files}
    assert len(set(user.stored) - referenced) == 1
    assert result.retries == 2


async def test_failed_rereads_are_retried_and_the_submit_is_not_resent(clock: FakeClock) -> None:
    server = FakeServer()
    user = server.user()
    user.submit_faults.extend(["commit_then_unknown"])
    # The run's first read works, the two re-reads after the ambiguous submit fail.
    user.get_faults.extend([None, "down", "down"])
    events: list[WizardEvent] = []
    result = await WizardRunner(server.client(), ALL_DOCS, on_event=events.append).run()
    _all_committed_once(server)
    assert result.steps[0].reconciled is True
    assert (user.upload_calls, user.submit_calls) == (3, 3)
    reads = [e for e in events if isinstance(e, Retrying) and e.action == "read"]
    assert [(e.attempt, e.reason) for e in reads] == [
        (2, "APIConnectionError"),
        (3, "APIConnectionError"),
    ]


async def test_a_crash_during_the_reread_leaves_the_submit_in_flight_for_the_next_run() -> None:
    server = FakeServer()
    user = server.user()
    user.submit_faults.extend(["commit_then_unknown"])
    store = MemoryCheckpointStore()

    async def crash(delay: float) -> None:
        raise SimulatedCrash

    with pytest.raises(SimulatedCrash):
        await WizardRunner(
            server.client(), ALL_DOCS, checkpoint_store=store, checkpoint_key="a", sleep=crash
        ).run()
    cp = await store.load("a")
    assert cp is not None
    assert cp.submit_in_flight is True
    assert cp.current is not None
    assert cp.current.submitted_files == list(user.committed[0][2])
    result = await WizardRunner(
        server.client(), ALL_DOCS, checkpoint_store=store, checkpoint_key="a"
    ).run()
    _all_committed_once(server)
    assert result.steps[0].reconciled is True
    assert (user.upload_calls, user.submit_calls) == (3, 3)


class CrashingStore(MemoryCheckpointStore):
    """Crashes the run at the first save of a checkpoint that marks step ``at`` in flight."""

    def __init__(self, at: int) -> None:
        super().__init__()
        self.at = at
        self.crashed = False

    async def save(self, key: str, checkpoint: Checkpoint) -> None:
        if (
            not self.crashed
            and checkpoint.submit_in_flight
            and len(checkpoint.steps) + 1 == self.at
        ):
            self.crashed = True
            raise SimulatedCrash
        await super().save(key, checkpoint)


async def test_resume_after_crash_between_upload_and_submit() -> None:
    server = FakeServer()
    user = server.user()
    store = CrashingStore(at=2)
    with pytest.raises(SimulatedCrash):
        await WizardRunner(
            server.client(), ALL_DOCS, checkpoint_store=store, checkpoint_key="alice"
        ).run()
    cp = await store.load("alice")
    assert cp is not None
    assert len(cp.steps) == 1
    assert cp.current is not None
    assert cp.current.submit_in_flight is False
    assert [u.path for u in cp.current.uploads] == [list(user.stored)[1]]
    assert (user.upload_calls, user.submit_calls) == (2, 1)

    result = await WizardRunner(
        server.client(), ALL_DOCS, checkpoint_store=store, checkpoint_key="alice"
    ).run()
    assert result.resumed is True
    _all_committed_once(server)
    assert user.upload_calls == 3  # nothing uploaded twice
    assert user.submit_calls == 3
    assert [s.type_id for s in result.steps] == [2, 5, 7]
    final = await store.load("alice")
    assert final is not None
    assert final.done is True


async def test_resume_after_crash_with_a_submit_in_flight_that_committed() -> None:
    server = FakeServer()
    user = server.user()
    user.submit_faults.extend([None, "crash_after_commit"])  # type: ignore[list-item]
    store = MemoryCheckpointStore()
    with pytest.raises(SimulatedCrash):
        await WizardRunner(
            server.client(), ALL_DOCS, checkpoint_store=store, checkpoint_key="a"
        ).run()
    cp = await store.load("a")
    assert cp is not None
    assert cp.submit_in_flight is True
    assert len(user.committed) == 2

    result = await WizardRunner(
        server.client(), ALL_DOCS, checkpoint_store=store, checkpoint_key="a"
    ).run()
    assert result.resumed is True
    _all_committed_once(server)
    assert (user.upload_calls, user.submit_calls) == (3, 3)
    assert [s.reconciled for s in result.steps] == [False, True, False]
    assert result.steps[1].files == user.committed[1][2]


async def test_resume_after_crash_with_a_submit_in_flight_that_did_not_commit() -> None:
    server = FakeServer()
    user = server.user()
    user.submit_faults.extend(["crash_before_send"])
    store = MemoryCheckpointStore()
    with pytest.raises(SimulatedCrash):
        await WizardRunner(
            server.client(), ALL_DOCS, checkpoint_store=store, checkpoint_key="a"
        ).run()
    result = await WizardRunner(
        server.client(), ALL_DOCS, checkpoint_store=store, checkpoint_key="a"
    ).run()
    assert result.resumed is True
    _all_committed_once(server)
    assert user.upload_calls == 3
    assert user.submit_calls == 4


async def test_done_checkpoint_is_kept_and_a_new_run_starts_afresh() -> None:
    server = FakeServer([[dict(id=2, description="Passport")]])
    store = MemoryCheckpointStore()
    await WizardRunner(server.client(), ALL_DOCS, checkpoint_store=store, checkpoint_key="a").run()
    raw = store.dump()["a"]
    assert raw["done"] is True
    assert raw["steps"][0]["type_id"] == 2
    assert Checkpoint.model_validate_json(Checkpoint.model_validate(raw).model_dump_json()).done
    again = await WizardRunner(
        server.client(), ALL_DOCS, checkpoint_store=store, checkpoint_key="a"
    ).run()
    assert again.resumed is False
    assert again.steps == ()


def _open_fds_to(path: Path) -> int:
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{fd}") == str(path):
                count += 1
        except OSError:
            continue
    return count


async def test_cancel_mid_upload_closes_everything_and_keeps_a_true_checkpoint(
    tmp_path: Path,
) -> None:
    (tmp_path / "a.jpg").write_bytes(JPEG)
    blocked_file = tmp_path / "b.jpg"
    blocked_file.write_bytes(JPEG * 10)
    stream_state = {"opened": 0, "closed": 0, "blocking": True}
    waiting = asyncio.Event()
    forever = asyncio.Event()

    def chunks(chunk_size: int) -> AsyncIterator[bytes]:
        async def gen() -> AsyncIterator[bytes]:
            stream_state["opened"] += 1
            try:
                yield PDF
                if stream_state["blocking"]:
                    waiting.set()
                    await forever.wait()
            finally:
                stream_state["closed"] += 1

        return gen()

    async def lookup(doc_type: DocumentType) -> list[Document] | None:
        if doc_type.id != 5:
            return await ALL_DOCS.documents_for(doc_type)
        return [
            Document.from_path(tmp_path / "a.jpg"),
            Document.from_path(blocked_file),
            Document.from_stream(chunks, "c.pdf"),
        ]

    server = FakeServer()
    user = server.user()
    user.gate = asyncio.Event()
    user.gate_names = {"b.jpg"}
    store = MemoryCheckpointStore()
    provider = CallableProvider(lookup)

    a_recorded = asyncio.Event()

    def on_event(event: WizardEvent) -> None:
        # Emitted after the checkpoint recording the upload was saved.
        if isinstance(event, FileUploaded) and event.file_name == "a.jpg":
            a_recorded.set()

    task = asyncio.create_task(
        WizardRunner(
            server.client(), provider, checkpoint_store=store, checkpoint_key="k", on_event=on_event
        ).run()
    )
    async with asyncio.timeout(5):
        await a_recorded.wait()
        await user.blocked_event.wait()
        await waiting.wait()
    assert user.blocked == {"b.jpg"}
    assert _open_fds_to(blocked_file.resolve()) == 1  # the upload holds b.jpg open
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    assert _open_fds_to(blocked_file.resolve()) == 0
    assert stream_state["opened"] == stream_state["closed"] >= 2  # validation + upload
    assert user.open_streams == 0
    assert user.submit_calls == 1  # step 1 only
    cp = await store.load("k")
    assert cp is not None
    assert cp.current is not None
    assert cp.current.submit_in_flight is False
    assert [(u.index, u.name) for u in cp.current.uploads] == [(0, "a.jpg")]
    assert cp.current.uploads[0].path in user.stored

    # Resume: a.jpg is reused; b.jpg and c.pdf are uploaded once more, then the run completes.
    user.gate = None
    stream_state["blocking"] = False
    result = await WizardRunner(
        server.client(), provider, checkpoint_store=store, checkpoint_key="k"
    ).run()
    assert result.resumed is True
    _all_committed_once(server)
    assert len(user.uploads_of("a.jpg")) == 1
    assert result.steps[1].files[0] == cp.current.uploads[0].path
    assert [Path(p).name.split("_", 1)[1] for p in result.steps[1].files] == [
        "a.jpg",
        "b.jpg",
        "c.pdf",
    ]


async def test_a_submit_committed_after_the_reread_is_settled_by_the_conflict() -> None:
    # The server commits a timed-out submit only after the runner has re-read an unchanged
    # step: the runner's resend is refused as a duplicate (409), and the runner reconciles it.
    server = FakeServer()
    user = server.user()
    user.submit_faults.extend(["late_commit"])
    runner = WizardRunner(server.client(), ALL_DOCS, settle_delay=0)
    result = await runner.run()
    assert result.done
    assert len(user.committed) == 3
    assert len(set(user.committed)) == 3
    assert result.steps[0].reconciled
    assert len(user.duplicates) == 1  # the refused resend: the server kept one submission
    assert user.submit_calls == 4


async def test_settle_delay_lets_a_late_commit_land_before_the_reread(clock: FakeClock) -> None:
    server = FakeServer()
    user = server.user()
    user.submit_faults.extend(["unknown"])
    runner = WizardRunner(server.client(), ALL_DOCS, settle_delay=0.25)
    result = await runner.run()
    assert result.done
    # One wait, of the configured length (plus at most 10 % jitter), after the timed-out
    # submit; none anywhere else.
    assert len(clock.waits) == 1
    assert 0.25 <= clock.waits[0] <= 0.275
