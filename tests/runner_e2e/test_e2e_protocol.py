"""The wizard protocol end to end, under every reading of the envelope (the ``reading`` fixture):
how a wizard ends, refused documents, SDK wizards, the server's words, the client's limits."""

from __future__ import annotations

from pathlib import Path

import pytest
from e2ekit import ASSETS, Reading, copy_assets, make_client

import kycflow
from kycflow.testing import DocType, LevelSpec, Quirks, Sandbox, Scenario, Step
from kycflow.testing.scenario import ERROR_BODIES
from kycflow.wizard.events import FileUploaded, StepRefused, StepSubmitted, WizardEvent

LEVELS = (LevelSpec(1, "L0"), LevelSpec(2, "L1"))
BLURRED = "the photo is blurred"


def _scenario(*steps: Step, **quirks: object) -> Scenario:
    return Scenario(levels=LEVELS, initial_level=1, steps=steps, quirks=Quirks(**quirks))  # type: ignore[arg-type]


async def test_a_202_with_done_false_is_reported_as_no_success(docs_dir: Path) -> None:
    scenario = _scenario(
        Step(types=(DocType(2, "Passport"),)), Step(types=(DocType(3, "Selfie"),)), final_done=False
    )
    async with Sandbox(scenario) as sb:
        user = sb.create_user()
        async with make_client(sb, user) as client:
            result = await kycflow.WizardRunner(client, kycflow.DirectoryProvider(docs_dir)).run()
        assert (result.outcome, result.done, result.succeeded) == (
            "ended_without_success",
            False,
            False,
        )
        assert result.final_step.is_final
        assert [s.type_id for s in result.steps] == [2, 3]
        assert sb.level_of(user) == 1


@pytest.mark.parametrize("refusal", ["same", "fewer"])
async def test_a_refused_document_is_not_a_step_and_another_type_is_tried(
    docs_dir: Path, reading: Reading, refusal: str
) -> None:
    scenario = _scenario(
        Step(types=(DocType(3, "Selfie"),)),
        Step(types=(DocType(2, "Passport", refuse=BLURRED), DocType(1, "ID card"))),
        refusal=refusal,
    )
    events: list[WizardEvent] = []
    async with Sandbox(scenario) as sb:
        user = sb.create_user()
        async with make_client(sb, user) as client:
            # max_steps=2: the refusal does not count as a step.
            runner = kycflow.WizardRunner(
                client, kycflow.DirectoryProvider(docs_dir), max_steps=2, on_event=events.append
            )
            result = await runner.run()
        assert result.succeeded
        assert [s.type_id for s in result.steps] == [3, 1]
        refused = [e for e in events if isinstance(e, StepRefused)]
        assert [(e.step, e.type_id, e.retry_type_ids) for e in refused] == [(2, 2, (1,))]
        # An empty reply carries no reason: the server's words reach the event when sent.
        empty = reading.submit_reply.startswith("empty")
        assert refused[0].reason == (None if empty else BLURRED)
        assert [(e.step, e.type_id) for e in events if isinstance(e, StepSubmitted)] == [
            (1, 3),
            (2, 1),
        ]
        assert [s.type for s in sb.submissions(user)] == [3, 1]
        assert sb.duplicates() == []


async def test_every_type_refused_raises_with_the_reason_and_the_step_number(
    docs_dir: Path, reading: Reading
) -> None:
    scenario = _scenario(
        Step(types=(DocType(3, "Selfie"),)),
        Step(types=(DocType(2, "Passport", refuse=BLURRED), DocType(1, "ID card", refuse=BLURRED))),
    )
    store = kycflow.MemoryCheckpointStore()
    async with Sandbox(scenario) as sb:
        user = sb.create_user()
        async with make_client(sb, user) as client:
            runner = kycflow.WizardRunner(
                client,
                kycflow.DirectoryProvider(docs_dir),
                checkpoint_store=store,
                checkpoint_key="k",
            )
            with pytest.raises(kycflow.StepRefusedError) as info:
                await runner.run()
        error = info.value
        assert error.step == 2
        assert error.type_ids == [1, 2]
        assert isinstance(error, kycflow.WizardStalledError)
        if not reading.submit_reply.startswith("empty"):
            assert error.reason == BLURRED
            assert BLURRED in str(error)
        assert "step 2" in str(error)
        cp = await store.load("k")
        assert cp is not None
        assert [s.type_id for s in cp.steps] == [3]  # refused submits are not committed steps
        assert cp.current is None
        assert len(sb.requests(route="submit", user=user.email)) == 3


@pytest.mark.parametrize("sdk", ["IdenfySDK", "SnsWizardSDK", "ShuftiProSDK", "IDWiseSDK"])
async def test_a_third_party_sdk_wizard_is_a_typed_error(docs_dir: Path, sdk: str) -> None:
    async with Sandbox(_scenario(Step(types=(), sdk=sdk))) as sb:
        user = sb.create_user()
        async with make_client(sb, user) as client:
            with pytest.raises(kycflow.UnsupportedWizardError) as info:
                await kycflow.WizardRunner(client, kycflow.DirectoryProvider(docs_dir)).run()
        assert info.value.workflow.endswith(sdk)
        assert sdk in str(info.value)
        assert info.value.step == 1
        assert sb.requests(route="upload") == []


@pytest.mark.parametrize("shape", ERROR_BODIES)
async def test_the_servers_reason_reaches_the_error(docs_dir: Path, shape: str) -> None:
    scenario = _scenario(Step(types=(DocType(1, "ID card", min_files=2),)), error_body=shape)
    async with Sandbox(scenario) as sb:
        user = sb.create_user()
        async with make_client(sb, user) as client:
            with pytest.raises(kycflow.BadRequestError) as info:
                await kycflow.WizardRunner(client, kycflow.DirectoryProvider(docs_dir)).run()
        error = info.value
        assert "document type 1 needs 2 files" in str(error)
        words = error.message + " ".join(str(d) for d in error.details)
        assert "document type 1 needs 2 files" in words
        assert len(sb.requests(route="submit")) == 1  # a 400 to a first submit is not resent


def _jpeg(path: Path, size: int) -> Path:
    path.write_bytes(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * (size - 11))
    return path


async def test_documents_are_validated_with_the_clients_limits_before_any_request(
    tmp_path: Path,
) -> None:
    # One step of two files, the second over the client's (narrow) limit: nothing is uploaded.
    docs = tmp_path / "docs"
    docs.mkdir()
    _jpeg(docs / "id_card_front.jpg", 1000)
    _jpeg(docs / "id_card_back.jpg", 5000)
    async with Sandbox(_scenario(Step(types=(DocType(1, "ID card", min_files=2),)))) as sb:
        user = sb.create_user()
        async with make_client(sb, user, max_upload_bytes=2000) as client:
            with pytest.raises(kycflow.DocumentError) as info:
                await kycflow.WizardRunner(client, kycflow.DirectoryProvider(docs)).run()
        assert "2000" in str(info.value)
        assert sb.requests(route="upload") == []


async def test_a_raised_client_limit_lets_the_runner_upload_a_large_file(tmp_path: Path) -> None:
    # 30 MiB: over the library's default 25 MiB, within the client's 64 MiB.
    docs = copy_assets(tmp_path / "docs", ASSETS, ())
    _jpeg(docs / "selfie.jpg", 30 * 1024 * 1024)
    events: list[WizardEvent] = []
    async with Sandbox(
        _scenario(Step(types=(DocType(3, "Selfie"),))), max_upload_bytes=64 * 1024 * 1024
    ) as sb:
        user = sb.create_user()
        async with make_client(sb, user, max_upload_bytes=64 * 1024 * 1024) as client:
            result = await kycflow.WizardRunner(
                client, kycflow.DirectoryProvider(docs), on_event=events.append
            ).run()
        assert result.succeeded
        uploaded = [e for e in events if isinstance(e, FileUploaded)]
        assert [e.size for e in uploaded] == [30 * 1024 * 1024]
        assert [u.size for u in sb.uploads(user)] == [30 * 1024 * 1024]
