"""Exactly-once over real HTTP: ambiguous submits, crashes and resumes, cancellation."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import aiohttp
import pytest
from e2ekit import (
    ASSETS,
    Reading,
    assert_committed_once,
    copy_assets,
    make_client,
    open_fds_to,
    submits,
)

import kycflow
from kycflow.testing import Faults, Sandbox
from kycflow.wizard.events import FileUploaded, Retrying, StepSubmitted, WizardEvent

# A fault on the first submit: (kind, status, whether the server committed the step).
AMBIGUOUS = [
    pytest.param("reset_after", None, True, id="reset-after-commit"),
    pytest.param("malformed_json", None, True, id="truncated-reply-after-commit"),
    pytest.param("reset_before", None, False, id="reset-before-commit"),
    pytest.param("5xx", 500, False, id="500"),
    pytest.param("html", None, False, id="proxy-502-page"),
]


@pytest.mark.parametrize(("kind", "status", "committed"), AMBIGUOUS)
async def test_ambiguous_submit_completes_with_each_step_committed_once(
    docs_dir: Path, kind: str, status: int | None, committed: bool, reading: Reading
) -> None:
    faults = Faults().fail_next("submit", kind, status=status)
    async with Sandbox(faults=faults) as sb:
        user = sb.create_user()
        events: list[WizardEvent] = []
        async with make_client(sb, user) as client:
            result = await kycflow.WizardRunner(
                client, kycflow.DirectoryProvider(docs_dir), on_event=events.append
            ).run()
        assert result.done
        assert_committed_once(sb, user)
        assert len(sb.faults_injected(route="submit", kind=kind)) == 1
        sent = submits(sb, user)
        if committed:
            # Learned from re-reading the wizard: never sent again.
            assert len(sent) == 3
            assert result.steps[0].reconciled is True
            assert result.retries == 0
            assert not any(isinstance(e, Retrying) for e in events)
        else:
            # Sent again once, with the same stored files (no second upload).
            assert len(sent) == 4
            # (An empty reply to the resend is itself settled by reading the wizard.)
            assert result.steps[0].reconciled is reading.submit_reply.startswith("empty")
            assert result.retries == 1
            assert [e.action for e in events if isinstance(e, Retrying)] == ["submit"]
        assert len(sb.uploads(user)) == 3
        # The start, one re-read, and the reads the reading needs after each answered submit.
        answered = 2 if committed else 3
        reads = sb.requests(route="wizard", user=user.email)
        assert len(reads) == 2 + reading.page_reads(answered)


class _FirstSubmitTimesOut:
    """The client as a runner uses it, but its first submit (the one the sandbox stalls) has a
    ``timeout`` shorter than the stall; every other request keeps the client's own timeout, so
    a slow machine cannot time one out and add a retry or a reconciliation to the count."""

    def __init__(self, client: kycflow.Client, timeout: float) -> None:
        self.files = client.files
        self.wizard = self
        self._wizard = client.wizard
        self._timeout: float | None = timeout

    async def start(self) -> kycflow.WizardStep:
        return await self._wizard.start()

    async def submit(self, uuid: str, type_id: int, files: list[str], /) -> kycflow.WizardStep:
        if self._timeout is None:
            return await self._wizard.submit(uuid, type_id, files)
        timeout, self._timeout = self._timeout, None
        return await self._wizard.submit(uuid, type_id, files, timeout=timeout)


async def test_a_submit_slower_than_the_client_timeout_is_settled_without_a_duplicate(
    docs_dir: Path, reading: Reading
) -> None:
    faults = Faults(slow_delay=0.6).fail_next("submit", "slow")
    async with Sandbox(faults=faults) as sb:
        user = sb.create_user()
        async with make_client(sb, user) as client:
            # A real clock here: the settle delay must really let the slow handler commit.
            runner = kycflow.WizardRunner(
                _FirstSubmitTimesOut(client, 0.3),
                kycflow.DirectoryProvider(docs_dir),
                settle_delay=0.8,
                sleep=asyncio.sleep,
            )
            result = await runner.run()
        await asyncio.sleep(0.5)  # let the stalled handler finish, whatever it does
        assert result.done
        assert_committed_once(sb, user)
        assert sb.duplicates() == []
        # The slow step was settled (or resent once); an empty reply settles every other.
        empty = 2 if reading.submit_reply.startswith("empty") else 0
        assert result.retries + sum(s.reconciled for s in result.steps) == 1 + empty


async def test_cancelled_during_submit_then_resumed(docs_dir: Path) -> None:
    async with Sandbox(faults=Faults(slow_delay=0.5)) as sb:
        user = sb.create_user()
        store = kycflow.MemoryCheckpointStore()
        provider = kycflow.DirectoryProvider(docs_dir)
        in_flight = asyncio.Event()

        class WatchingStore(kycflow.MemoryCheckpointStore):
            async def save(self, key: str, checkpoint: kycflow.Checkpoint) -> None:
                await store.save(key, checkpoint)
                if checkpoint.submit_in_flight and len(checkpoint.steps) == 1:
                    in_flight.set()

        def stall_step_2(event: WizardEvent) -> None:
            if isinstance(event, StepSubmitted) and event.step == 1:
                sb.faults.fail_next("submit", "slow")

        async with make_client(sb, user) as client:
            task = asyncio.create_task(
                kycflow.WizardRunner(
                    client,
                    provider,
                    checkpoint_store=WatchingStore(),
                    checkpoint_key="k",
                    on_event=stall_step_2,
                ).run()
            )
            async with asyncio.timeout(5):
                await in_flight.wait()
            await asyncio.sleep(0.1)  # the submit is on the wire, its reply 0.5 s away
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            cp = await store.load("k")
            assert cp is not None
            assert cp.submit_in_flight
            assert cp.current is not None
            assert cp.current.type_id == 3
            await asyncio.sleep(0.6)  # whatever the stalled handler does, it has done it
            result = await kycflow.WizardRunner(
                client, provider, checkpoint_store=store, checkpoint_key="k"
            ).run()
        assert result.done
        assert result.resumed
        assert result.steps[1].files == tuple(cp.current.submitted_files)
        assert_committed_once(sb, user)
        assert len(sb.uploads(user)) == 3


@pytest.mark.parametrize(("kind", "status"), [("reset_after", None), ("5xx", 500)])
async def test_ambiguous_upload_is_uploaded_again_and_the_orphan_is_never_submitted(
    docs_dir: Path, kind: str, status: int | None
) -> None:
    faults = Faults().fail_next("upload", kind, status=status)
    async with Sandbox(faults=faults) as sb:
        user = sb.create_user()
        async with make_client(sb, user) as client:
            result = await kycflow.WizardRunner(client, kycflow.DirectoryProvider(docs_dir)).run()
        assert_committed_once(sb, user)
        stored = [u.path for u in sb.uploads(user) if u.filename == "passport.jpg"]
        # reset_after stored an orphan the submit does not reference; a 500 stored nothing.
        assert len(stored) == (2 if kind == "reset_after" else 1)
        assert sb.submissions(user)[0].files == (stored[-1],)
        assert result.retries == 1


async def test_resume_after_a_crash_between_upload_and_submit(docs_dir: Path) -> None:
    async with Sandbox() as sb:
        user = sb.create_user()
        store = kycflow.MemoryCheckpointStore()
        provider = kycflow.DirectoryProvider(docs_dir)
        async with make_client(sb, user) as client:
            box: list[asyncio.Task[kycflow.WizardResult]] = []

            async def crash_after_step_2_upload(event: WizardEvent) -> None:
                # FileUploaded is emitted after the checkpoint holding the upload was saved:
                # the process "dies" right there, the file stored and the step not submitted.
                # The run may be executing this very callback, so the cancellation must land
                # on an await inside it, not on a later one of the runner.
                if isinstance(event, FileUploaded) and event.step == 2:
                    box[0].cancel()
                    await asyncio.sleep(0)

            first = kycflow.WizardRunner(
                client,
                provider,
                checkpoint_store=store,
                checkpoint_key="alice",
                on_event=crash_after_step_2_upload,
            )
            box.append(asyncio.create_task(first.run()))
            with pytest.raises(asyncio.CancelledError):
                await asyncio.wait_for(box[0], 5)

            cp = await store.load("alice")
            assert cp is not None
            assert not cp.done
            assert [s.type_id for s in cp.steps] == [2]
            assert cp.current is not None
            assert cp.current.type_id == 3
            assert cp.current.submit_in_flight is False
            (selfie_upload,) = cp.current.uploads
            assert [s.type for s in sb.submissions(user)] == [2]

            events: list[WizardEvent] = []
            result = await kycflow.WizardRunner(
                client,
                provider,
                checkpoint_store=store,
                checkpoint_key="alice",
                on_event=events.append,
            ).run()

        assert result.done
        assert result.resumed
        assert [s.type_id for s in result.steps] == [2, 3, 4]
        assert result.steps[1].files == (selfie_upload.path,)
        reused = [e for e in events if isinstance(e, FileUploaded) and e.reused]
        assert [(e.step, e.file_name) for e in reused] == [(2, "selfie.jpg")]
        # Each file uploaded once, each step submitted once.
        names = [u.filename for u in sb.uploads(user)]
        assert sorted(names) == ["passport.jpg", "proof_of_address.pdf", "selfie.jpg"]
        assert len(submits(sb, user)) == 3
        assert_committed_once(sb, user)
        final = await store.load("alice")
        assert final is not None
        assert final.done


@pytest.mark.parametrize(("kind", "committed"), [("reset_after", True), ("reset_before", False)])
async def test_resume_after_a_run_killed_with_its_submit_in_flight(
    docs_dir: Path, kind: str, committed: bool, reading: Reading
) -> None:
    async with Sandbox() as sb:
        user = sb.create_user()
        store = kycflow.MemoryCheckpointStore()
        provider = kycflow.DirectoryProvider(docs_dir)

        def break_step_2(event: WizardEvent) -> None:
            # Step 2's submit is ambiguous and the re-read that would settle it fails too, in
            # a way no retry mends (501: transient failures are retried within the run).
            if isinstance(event, FileUploaded) and event.step == 2:
                sb.faults.fail_next("submit", kind)
                sb.faults.fail_next("wizard", "5xx", status=501)

        async with make_client(sb, user, max_retries=0) as client:
            with pytest.raises(kycflow.ServerError):
                await kycflow.WizardRunner(
                    client,
                    provider,
                    checkpoint_store=store,
                    checkpoint_key="alice",
                    on_event=break_step_2,
                ).run()
            cp = await store.load("alice")
            assert cp is not None
            assert cp.submit_in_flight
            assert cp.current is not None
            in_flight = list(cp.current.submitted_files)
            assert len(sb.submissions(user)) == (2 if committed else 1)

            events: list[WizardEvent] = []
            result = await kycflow.WizardRunner(
                client,
                provider,
                checkpoint_store=store,
                checkpoint_key="alice",
                on_event=events.append,
            ).run()

        assert result.done
        assert result.resumed
        assert result.steps[1].files == tuple(in_flight)
        # (An empty reply to the resend is settled by reading the wizard too.)
        learned = committed or reading.submit_reply.startswith("empty")
        assert result.steps[1].reconciled is learned
        step2 = [e for e in events if isinstance(e, StepSubmitted) and e.step == 2]
        assert [e.reconciled for e in step2] == [learned]
        assert len(submits(sb, user)) == (3 if committed else 4)
        assert len(sb.uploads(user)) == 3
        assert_committed_once(sb, user)


def _acquired(connector: aiohttp.BaseConnector) -> int:
    return len(connector._acquired)


async def test_cancel_mid_upload_releases_the_file_and_the_connection(tmp_path: Path) -> None:
    docs = copy_assets(tmp_path, ASSETS, ("passport.jpg", "proof_of_address.pdf"))
    # Big enough that loopback socket buffers cannot swallow it while the server stalls.
    big = tmp_path / "selfie.jpg"
    big.write_bytes((ASSETS / "selfie.jpg").read_bytes() + b"\0" * (20 * 1024 * 1024))
    faults = Faults(slow_delay=1.0)
    async with Sandbox(faults=faults) as sb:
        user = sb.create_user()
        store = kycflow.MemoryCheckpointStore()
        provider = kycflow.DirectoryProvider(docs)
        connector = aiohttp.TCPConnector()
        client = make_client(sb, user, connector=connector)
        try:

            def stall_the_big_upload(event: WizardEvent) -> None:
                if isinstance(event, StepSubmitted) and event.step == 1:
                    sb.faults.fail_next("upload", "slow")

            task = asyncio.create_task(
                kycflow.WizardRunner(
                    client,
                    provider,
                    checkpoint_store=store,
                    checkpoint_key="k",
                    on_event=stall_the_big_upload,
                ).run()
            )
            # Wait until the upload holds the file open and has stopped making progress.
            deadline = time.monotonic() + 5
            while open_fds_to(big) == 0:
                assert time.monotonic() < deadline, "the upload never opened the file"
                await asyncio.sleep(0.01)
            await asyncio.sleep(0.2)
            assert open_fds_to(big) == 1
            assert _acquired(connector) == 1
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task

            assert open_fds_to(big) == 0
            assert _acquired(connector) == 0
            cp = await store.load("k")
            assert cp is not None
            assert not cp.done
            # The checkpoint says what the sandbox recorded: step 1 committed with its file,
            # nothing of step 2 stored and no submit in flight.
            (sub,) = sb.submissions(user)
            assert [(s.type_id, tuple(s.files)) for s in cp.steps] == [(sub.type, sub.files)]
            assert cp.current is None or (cp.current.uploads == [] and not cp.submit_in_flight)
            assert {u.path for u in sb.uploads(user)} == set(cp.uploaded_paths())

            # The same client goes on to finish the run from the checkpoint.
            result = await kycflow.WizardRunner(
                client, provider, checkpoint_store=store, checkpoint_key="k"
            ).run()
            assert result.done
            assert result.resumed
            assert_committed_once(sb, user)
        finally:
            await client.aclose()
            await connector.close()  # a caller's connector is the caller's to close
