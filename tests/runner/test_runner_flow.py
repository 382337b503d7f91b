"""The WizardRunner's loop and guards, against the in-memory wizard of runner_fakes."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence

import pytest
from runner_fakes import (
    ADDRESS,
    ALL_DOCS,
    ID_CARD,
    JPEG,
    PASSPORT,
    PDF,
    SELFIE,
    FakeServer,
    dtype,
)
from structlog.testing import capture_logs

import kycflow
from kycflow import (
    CallableProvider,
    ConfigurationError,
    Document,
    DocumentError,
    DocumentType,
    MemoryCheckpointStore,
    MemoryProvider,
    MissingDocumentError,
    ProtocolError,
    WizardDeadlineError,
    WizardRunner,
    WizardStalledError,
    WizardStep,
    WizardStepLimitError,
)
from kycflow.wizard.events import (
    Completed,
    Failed,
    FileUploaded,
    StepStarted,
    StepSubmitted,
    WizardEvent,
)


async def test_three_step_flow() -> None:
    server = FakeServer()
    result = await WizardRunner(server.client(), ALL_DOCS).run()
    user = server.user()
    assert result.done is True
    assert result.uuid == user.uuid
    assert result.workflow.endswith("TerminateWorkflow")
    assert [s.type_id for s in result.steps] == [2, 5, 7]
    assert [s.index for s in result.steps] == [1, 2, 3]
    assert [s.type_description for s in result.steps] == ["Passport", "Proof of address", "Selfie"]
    assert [list(s.files) for s in result.steps] == [[files[0]] for _, _, files in user.committed]
    assert user.committed == [(user.uuid, s.type_id, s.files) for s in result.steps]
    assert (user.upload_calls, user.submit_calls, user.duplicates) == (3, 3, [])
    assert result.retries == 0
    assert result.resumed is False
    assert result.final_step.is_final


@pytest.mark.parametrize(("limit", "expected"), [(1, 1), (3, 3), (10, 5)])
async def test_uploads_are_concurrent_and_bounded(limit: int, expected: int) -> None:
    server = FakeServer([[ID_CARD]], upload_delay=0.01)
    provider = MemoryProvider({1: [(f"page{i}.jpg", JPEG) for i in range(5)]})
    result = await WizardRunner(server.client(), provider, upload_concurrency=limit).run()
    assert server.user().max_open_streams == expected
    # Submitted in the provider's order whatever order the uploads finished in.
    assert [p.rsplit("_", 1)[1] for p in result.steps[0].files] == [
        f"page{i}.jpg" for i in range(5)
    ]


async def test_first_supplied_type_in_server_order() -> None:
    server = FakeServer([[dtype(9, "Driving licence", enabled=False), PASSPORT, ID_CARD]])
    provider = MemoryProvider({9: JPEG, 1: [JPEG, JPEG], 2: JPEG})
    result = await WizardRunner(server.client(), provider).run()
    assert [s.type_id for s in result.steps] == [2]
    assert server.user().upload_calls == 1


async def test_only_the_supplied_alternative_is_used() -> None:
    server = FakeServer([[PASSPORT, ID_CARD]])
    provider = MemoryProvider({"ID Card": [("front.jpg", JPEG), ("back.jpg", JPEG)]})
    result = await WizardRunner(server.client(), provider).run()
    assert [s.type_id for s in result.steps] == [1]
    assert len(result.steps[0].files) == 2
    assert server.user().committed[0][1] == 1


async def test_pluggable_type_policy() -> None:
    seen: list[list[int]] = []

    def last(step: WizardStep, supplied: Sequence[DocumentType]) -> DocumentType:
        seen.append([t.id for t in supplied])
        return supplied[-1]

    server = FakeServer([[PASSPORT, ID_CARD]])
    result = await WizardRunner(server.client(), ALL_DOCS, type_policy=last).run()
    assert seen == [[2, 1]]
    assert [s.type_id for s in result.steps] == [1]
    assert server.user().upload_calls == 2


async def test_policy_returning_a_foreign_type_is_refused() -> None:
    server = FakeServer([[PASSPORT]])

    def foreign(step: WizardStep, supplied: Sequence[DocumentType]) -> DocumentType:
        return DocumentType(id=99)

    with pytest.raises(ConfigurationError):
        await WizardRunner(server.client(), ALL_DOCS, type_policy=foreign).run()
    assert server.user().upload_calls == 0


async def test_final_step_on_first_call_is_a_normal_result() -> None:
    server = FakeServer([])
    result = await WizardRunner(server.client(), MemoryProvider({})).run()
    assert result.done is True
    assert result.steps == ()
    user = server.user()
    assert (user.get_calls, user.upload_calls, user.submit_calls) == (1, 0, 0)


async def test_missing_documents_name_the_types_and_upload_nothing_of_the_step() -> None:
    server = FakeServer([[ADDRESS], [PASSPORT, ID_CARD]])
    events: list[WizardEvent] = []
    runner = WizardRunner(server.client(), MemoryProvider({5: PDF}), on_event=events.append)
    with pytest.raises(MissingDocumentError) as info:
        await runner.run()
    assert [t.id for t in info.value.requested] == [2, 1]
    assert "2 (Passport)" in str(info.value)
    assert "1 (ID card)" in str(info.value)
    user = server.user()
    assert user.upload_calls == 1  # step 1's file only
    assert len(user.committed) == 1
    assert isinstance(events[-1], Failed)
    assert events[-1].error == "MissingDocumentError"
    assert events[-1].step == 2


async def test_unknown_code_is_a_protocol_error() -> None:
    server = FakeServer(code_override=201)
    with pytest.raises(ProtocolError):
        await WizardRunner(server.client(), ALL_DOCS).run()
    assert server.user().upload_calls == 0


async def test_stalled_wizard() -> None:
    server = FakeServer([[PASSPORT, ID_CARD, SELFIE]], stall=True)
    with pytest.raises(WizardStalledError):
        await WizardRunner(server.client(), ALL_DOCS, stall_limit=2).run()
    user = server.user()
    # Two unchanged replies; a type is never submitted twice for one step.
    assert [c[1] for c in user.committed] == [2, 1]
    assert user.duplicates == []


async def test_stall_when_every_supplied_type_was_submitted() -> None:
    server = FakeServer([[PASSPORT, ID_CARD]], stall=True)
    with pytest.raises(WizardStalledError):
        await WizardRunner(server.client(), MemoryProvider({2: JPEG}), stall_limit=5).run()
    assert [c[1] for c in server.user().committed] == [2]


async def test_max_steps() -> None:
    server = FakeServer()
    with pytest.raises(WizardStepLimitError):
        await WizardRunner(server.client(), ALL_DOCS, max_steps=2).run()
    assert len(server.user().committed) == 2


async def test_deadline_mid_upload() -> None:
    server = FakeServer()
    user = server.user()
    user.gate = asyncio.Event()  # never opened: the upload hangs
    events: list[WizardEvent] = []
    runner = WizardRunner(server.client(), ALL_DOCS, deadline=0.2, on_event=events.append)
    with pytest.raises(WizardDeadlineError) as info:
        await asyncio.wait_for(runner.run(), 5)
    assert isinstance(info.value, TimeoutError)
    assert user.open_streams == 0
    assert user.submit_calls == 0
    assert isinstance(events[-1], Failed)
    assert events[-1].error == "WizardDeadlineError"


async def test_every_file_is_validated_before_any_upload() -> None:
    server = FakeServer([[ID_CARD]])
    # The second file is not an image at all.
    provider = MemoryProvider({1: [("front.jpg", JPEG), ("back.jpg", b"GIF89a" + bytes(40))]})
    with pytest.raises(DocumentError) as info:
        await WizardRunner(server.client(), provider).run()
    assert info.value.name == "back.jpg"
    assert server.user().upload_calls == 0
    assert server.user().submit_calls == 0


async def test_empty_document_is_refused_before_upload() -> None:
    server = FakeServer([[PASSPORT]])
    provider = MemoryProvider({2: ("passport.jpg", b"")})
    with pytest.raises(DocumentError):
        await WizardRunner(server.client(), provider).run()
    assert server.user().upload_calls == 0


async def test_provider_errors_are_mapped() -> None:
    async def broken(doc_type: DocumentType) -> Document | None:
        raise KeyError(doc_type.id)

    server = FakeServer([[PASSPORT]])
    with pytest.raises(DocumentError) as info:
        await WizardRunner(server.client(), CallableProvider(broken)).run()
    assert isinstance(info.value.__cause__, KeyError)


async def test_events_sequence_and_callbacks() -> None:
    server = FakeServer([[ID_CARD], [ADDRESS]])
    sync_events: list[WizardEvent] = []
    async_events: list[WizardEvent] = []

    async def on_event(event: WizardEvent) -> None:
        await asyncio.sleep(0)
        async_events.append(event)

    def broken(event: WizardEvent) -> None:
        sync_events.append(event)
        raise RuntimeError("the dashboard is down")

    with capture_logs() as logs:
        result = await WizardRunner(
            server.client(), ALL_DOCS, on_event=broken, run_id="run-1", upload_concurrency=1
        ).run()
        await WizardRunner(server.client(), ALL_DOCS, on_event=on_event).run()
    assert result.done
    names = [e.name for e in sync_events]
    assert names == [
        "wizard.step_started",
        "wizard.file_uploaded",
        "wizard.file_uploaded",
        "wizard.step_submitted",
        "wizard.step_started",
        "wizard.file_uploaded",
        "wizard.step_submitted",
        "wizard.completed",
    ]
    assert {e.run_id for e in sync_events} == {"run-1"}
    assert [e.step for e in sync_events] == [1, 1, 1, 1, 2, 2, 2, 2]
    started = sync_events[0]
    assert isinstance(started, StepStarted)
    assert (started.type_ids, started.type_id, started.file_count) == ((1,), 1, 2)
    uploaded = [e for e in sync_events if isinstance(e, FileUploaded)]
    assert sorted(e.index for e in uploaded[:2]) == [0, 1]
    assert {e.path for e in uploaded} == {p for s in result.steps for p in s.files}
    submitted = [e for e in sync_events if isinstance(e, StepSubmitted)]
    assert [e.next_code for e in submitted] == [200, 202]
    completed = sync_events[-1]
    assert isinstance(completed, Completed)
    assert completed.step == 2
    for event in sync_events:
        text = json.dumps(event.to_dict())
        assert event.to_dict()["event"] == event.name
        assert "JFIF" not in text
    # The second run found the wizard done: only a Completed event.
    assert [e.name for e in async_events] == ["wizard.completed"]
    # Every event is logged with the run id bound, and the broken callback is reported.
    logged = [entry for entry in logs if entry.get("run_id") == "run-1"]
    assert [e["event"] for e in logged if e["event"] != "wizard.event_callback_failed"] == names
    assert sum(e["event"] == "wizard.event_callback_failed" for e in logged) == len(names)


async def test_many_users_concurrently() -> None:
    server = FakeServer(upload_delay=0.001)
    store = MemoryCheckpointStore()
    names = [f"user{i}" for i in range(20)]
    runners = [
        WizardRunner(server.client(n), ALL_DOCS, checkpoint_store=store, checkpoint_key=n)
        for n in names
    ]
    results = await asyncio.wait_for(asyncio.gather(*(r.run() for r in runners)), 20)
    for name, result in zip(names, results, strict=True):
        user = server.user(name)
        assert result.uuid == user.uuid
        assert len(user.committed) == 3
        assert user.duplicates == []
        assert all(p.startswith(f"u/{name}/") for s in result.steps for p in s.files)
    dumped = store.dump()
    assert sorted(dumped) == sorted(names)
    assert all(cp["done"] for cp in dumped.values())
    assert len({r.uuid for r in results}) == len(names)


def test_configuration_errors() -> None:
    client = FakeServer().client()
    with pytest.raises(ConfigurationError):
        WizardRunner(client, ALL_DOCS, checkpoint_store=MemoryCheckpointStore())
    with pytest.raises(ConfigurationError):
        WizardRunner(client, ALL_DOCS, max_steps=0)
    with pytest.raises(ConfigurationError):
        WizardRunner(client, ALL_DOCS, deadline=0)


def test_public_exports() -> None:
    for name in (
        "WizardRunner",
        "WizardResult",
        "StepResult",
        "FileProvider",
        "DirectoryProvider",
        "MemoryProvider",
        "CallableProvider",
        "Checkpoint",
        "CheckpointStore",
        "MemoryCheckpointStore",
        "WizardEvent",
    ):
        assert name in kycflow.__all__
        assert hasattr(kycflow, name)
    assert kycflow.wizard.events.Retrying.name == "wizard.retrying"
    assert isinstance(ALL_DOCS, kycflow.FileProvider)
