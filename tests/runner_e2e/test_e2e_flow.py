"""WizardRunner + the real Client against the sandbox on 127.0.0.1: the happy paths and the
ways a run ends early (missing documents, a stalled wizard, the run's deadline)."""

from __future__ import annotations

import hashlib
import shutil
import time
from pathlib import Path

import pytest
from e2ekit import ASSETS, Reading, assert_committed_once, copy_assets, make_client

import kycflow
from kycflow.testing import DocType, Faults, LevelSpec, Quirks, Sandbox, Scenario, Step
from kycflow.wizard.events import Failed, FileUploaded, WizardEvent


async def test_three_step_flow_grants_the_next_level(
    sb: Sandbox, docs_dir: Path, reading: Reading
) -> None:
    user = sb.create_user()
    async with make_client(sb, user) as client:
        before = await client.verifications.list(limit=10)
        result = await kycflow.WizardRunner(client, kycflow.DirectoryProvider(docs_dir)).run()
        after = await client.verifications.list(limit=10, sort_order="desc")

    assert result.done is True
    assert result.final_step.is_final
    assert [s.type_id for s in result.steps] == [2, 3, 4]
    assert result.retries == 0
    assert result.resumed is False
    # History grows by exactly one entry: the next level, granted from the previous one.
    assert after.total == before.total + 1 == 2
    newest = after.data[0]
    assert newest.current_level is not None
    assert newest.current_level.id == 2
    assert newest.previous_level is not None
    assert newest.previous_level.id == 1
    assert sb.level_of(user) == 2

    assert_committed_once(sb, user)
    subs = sb.submissions(user)
    assert [(s.type, s.files) for s in subs] == [(s.type_id, s.files) for s in result.steps]
    assert {s.uuid for s in subs} == {result.uuid}
    # The bytes that reached the server are the files' bytes, streamed as multipart.
    uploads = {u.filename: u for u in sb.uploads(user)}
    assert set(uploads) == {"passport.jpg", "selfie.jpg", "proof_of_address.pdf"}
    for name, record in uploads.items():
        data = (docs_dir / name).read_bytes()
        assert record.sha256 == hashlib.sha256(data).hexdigest()
        assert record.size == len(data)
    assert uploads["proof_of_address.pdf"].content_type == "application/pdf"
    assert uploads["passport.jpg"].content_type == "image/jpeg"
    counts = {route: len(sb.requests(route=route)) for route in ("wizard", "upload", "submit")}
    # The start, plus one read per submit reply that is not the next page (the reading's).
    assert counts == {"wizard": 1 + reading.page_reads(3), "upload": 3, "submit": 3}


@pytest.mark.parametrize(
    "quirks",
    [
        Quirks(wizard_data="types_object"),
        Quirks(wizard_data="bare_list"),
        Quirks(wizard_data="reference"),
        Quirks(upload_top_level_file=True),
    ],
    ids=["types-object", "bare-list", "reference-shape", "top-level-file"],
)
async def test_three_step_flow_on_every_reply_shape(docs_dir: Path, quirks: Quirks) -> None:
    default = Scenario.default()
    scenario = Scenario(levels=default.levels, steps=default.steps, initial_level=1, quirks=quirks)
    async with Sandbox(scenario) as sb:
        user = sb.create_user()
        async with make_client(sb, user) as client:
            result = await kycflow.WizardRunner(client, kycflow.DirectoryProvider(docs_dir)).run()
        assert [s.type_id for s in result.steps] == [2, 3, 4]
        assert_committed_once(sb, user)


async def test_a_second_run_after_completion_starts_the_next_procedure(
    docs_dir: Path,
) -> None:
    three_levels = Scenario.default()
    scenario = Scenario(
        levels=(*three_levels.levels, LevelSpec(3, "Level 2")),
        initial_level=1,
        steps=three_levels.steps,
    )
    async with Sandbox(scenario) as sb:
        user = sb.create_user()
        store = kycflow.MemoryCheckpointStore()
        async with make_client(sb, user) as client:
            runner = kycflow.WizardRunner(
                client,
                kycflow.DirectoryProvider(docs_dir),
                checkpoint_store=store,
                checkpoint_key="alice",
            )
            first = await runner.run()
            second = await runner.run()
    # A done checkpoint does not leak into the next procedure: new uuid, fresh uploads.
    assert first.uuid != second.uuid
    assert second.resumed is False
    assert set(first.steps[0].files).isdisjoint(second.steps[0].files)
    assert_committed_once(sb, user, procedures=2)
    assert sb.level_of(user) == 3


async def test_default_policy_picks_the_first_supplied_type_in_server_order(
    tmp_path: Path,
) -> None:
    scenario = Scenario(
        levels=(LevelSpec(1, "Level 0"), LevelSpec(2, "Level 1")),
        initial_level=1,
        steps=(
            Step(
                types=(
                    DocType(5, "Driving licence", enabled=False),
                    DocType(2, "Passport"),
                    DocType(1, "ID card"),
                )
            ),
        ),
    )
    docs = copy_assets(tmp_path, ASSETS, ("passport.jpg", "id_card.jpg"))
    shutil.copyfile(ASSETS / "id_card.jpg", docs / "driving_licence.jpg")
    # The mapping lists the ID card first: the server's order decides, not the provider's.
    provider = kycflow.DirectoryProvider(
        docs,
        {"ID card": "id_card.jpg", "Driving licence": "driving_licence.jpg", 2: "passport.jpg"},
    )
    async with Sandbox(scenario) as sb:
        user = sb.create_user()
        async with make_client(sb, user) as client:
            result = await kycflow.WizardRunner(client, provider).run()
        assert [s.type_id for s in result.steps] == [2]
        assert [s.type for s in sb.submissions(user)] == [2]
        assert [u.filename for u in sb.uploads(user)] == ["passport.jpg"]
        assert_committed_once(sb, user)


async def test_a_provider_lacking_the_first_type_gets_the_alternative(
    sb: Sandbox, tmp_path: Path
) -> None:
    docs = copy_assets(tmp_path, ASSETS, ("id_card.jpg", "selfie.jpg", "proof_of_address.pdf"))
    user = sb.create_user()
    async with make_client(sb, user) as client:
        result = await kycflow.WizardRunner(client, kycflow.DirectoryProvider(docs)).run()
    assert [s.type_id for s in result.steps] == [1, 3, 4]
    assert result.steps[0].type_description == "ID card"
    assert [s.type for s in sb.submissions(user)] == [1, 3, 4]
    assert "passport.jpg" not in {u.filename for u in sb.uploads(user)}
    assert_committed_once(sb, user)


async def test_a_multi_file_type_uploads_every_file_in_order(tmp_path: Path) -> None:
    scenario = Scenario(
        levels=(LevelSpec(1, "Level 0"), LevelSpec(2, "Level 1")),
        initial_level=1,
        steps=(Step(types=(DocType(1, "ID card", min_files=2),)),),
    )
    shutil.copyfile(ASSETS / "id_card.jpg", tmp_path / "id_card_front.jpg")
    (tmp_path / "id_card_back.jpg").write_bytes((ASSETS / "id_card.jpg").read_bytes() + b"\0")
    async with Sandbox(scenario) as sb:
        user = sb.create_user()
        async with make_client(sb, user) as client:
            result = await kycflow.WizardRunner(
                client, kycflow.DirectoryProvider(tmp_path), upload_concurrency=2
            ).run()
        (sub,) = sb.submissions(user)
        names = {u.path: u.filename for u in sb.uploads(user)}
        assert [names[p] for p in sub.files] == ["id_card_front.jpg", "id_card_back.jpg"]
        assert sub.files == result.steps[0].files
        assert_committed_once(sb, user)


async def test_final_step_on_the_first_call(sb: Sandbox, docs_dir: Path) -> None:
    user = sb.create_user(level=2)  # already holds the last level: nothing left to verify
    async with make_client(sb, user) as client:
        result = await kycflow.WizardRunner(client, kycflow.DirectoryProvider(docs_dir)).run()
    assert result.done is True
    assert result.final_step.code == 202
    assert result.steps == ()
    assert [r.route for r in sb.requests(user=user.email)] == ["wizard"]
    assert sb.uploads(user) == []
    assert sb.submissions(user) == []


async def test_missing_documents_name_the_types_and_upload_nothing_for_the_step(
    sb: Sandbox, tmp_path: Path
) -> None:
    docs = copy_assets(tmp_path, ASSETS, ("passport.jpg", "proof_of_address.pdf"))
    user = sb.create_user()
    events: list[WizardEvent] = []
    async with make_client(sb, user) as client:
        runner = kycflow.WizardRunner(
            client, kycflow.DirectoryProvider(docs), on_event=events.append
        )
        with pytest.raises(kycflow.MissingDocumentError) as info:
            await runner.run()
    assert "3 (Selfie)" in str(info.value)
    assert [(t.id, t.description) for t in info.value.requested] == [(3, "Selfie")]
    # Step 1 went through; step 2 cost no request at all.
    assert [u.filename for u in sb.uploads(user)] == ["passport.jpg"]
    assert [s.type for s in sb.submissions(user)] == [2]
    assert len(sb.requests(route="upload", user=user.email)) == 1
    assert len(sb.requests(route="submit", user=user.email)) == 1
    assert isinstance(events[-1], Failed)
    assert events[-1].error == "MissingDocumentError"


async def test_a_stalled_wizard_raises_after_each_type_was_tried_once(tmp_path: Path) -> None:
    scenario = Scenario(
        levels=(LevelSpec(1, "Level 0"), LevelSpec(2, "Level 1")),
        initial_level=1,
        steps=(
            Step(types=(DocType(3, "Selfie"),)),
            Step(types=(DocType(2, "Passport"), DocType(1, "ID card")), stall=True),
        ),
    )
    docs = copy_assets(tmp_path, ASSETS, ("passport.jpg", "id_card.jpg", "selfie.jpg"))
    async with Sandbox(scenario) as sb:
        user = sb.create_user()
        async with make_client(sb, user) as client:
            started = time.monotonic()
            with pytest.raises(kycflow.WizardStalledError):
                await kycflow.WizardRunner(client, kycflow.DirectoryProvider(docs)).run()
            assert time.monotonic() - started < 5
        submits = sb.requests(route="submit", user=user.email)
        # Step 1 once; the stalled step once with each alternative, never one type twice.
        assert len(submits) == 3
        assert all(r.status is not None and 200 <= r.status < 300 for r in submits)
        assert [s.type for s in sb.submissions(user)] == [3]
        assert sb.duplicates() == []


async def test_the_run_deadline_ends_a_slow_upload_in_bounded_time(docs_dir: Path) -> None:
    faults = Faults(slow_delay=1.5).fail_next("upload", "slow")
    async with Sandbox(faults=faults) as sb:
        user = sb.create_user()
        events: list[WizardEvent] = []
        async with make_client(sb, user) as client:
            runner = kycflow.WizardRunner(
                client, kycflow.DirectoryProvider(docs_dir), deadline=0.3, on_event=events.append
            )
            started = time.monotonic()
            with pytest.raises(kycflow.WizardDeadlineError) as info:
                await runner.run()
            elapsed = time.monotonic() - started
        assert 0.25 <= elapsed < 1.2
        assert isinstance(info.value, TimeoutError)  # catchable as a timeout too
        assert "0.3" in str(info.value)
        assert not any(isinstance(e, FileUploaded) for e in events)
        assert isinstance(events[-1], Failed)
        assert events[-1].error == "WizardDeadlineError"
        assert sb.submissions(user) == []


async def test_readme_quickstart(
    sb: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """README's quickstart, verbatim but for the base URL and token."""
    user = sb.create_user()
    copy_assets(tmp_path / "documents", ASSETS)
    monkeypatch.chdir(tmp_path)
    base_url, token = sb.base_url, user.access_token

    # -- the snippet ----------------------------------------------------------------------------
    async with kycflow.Client(base_url, auth=kycflow.BearerToken(token)) as client:
        runner = kycflow.WizardRunner(client, kycflow.DirectoryProvider("./documents"))
        result = await runner.run()
        # "completed", or "ended_without_success" (the final step said done: false)
        print(result.outcome, [(s.type_description, s.files) for s in result.steps])
    # ---------------------------------------------------------------------------------------------

    assert capsys.readouterr().out.startswith("completed [('Passport', ('u")
    assert [s.type_description for s in result.steps] == ["Passport", "Selfie", "Proof of address"]
    assert_committed_once(sb, user)


async def test_readme_sandbox_snippet(docs_dir: Path) -> None:
    """README's sandbox section: a seeded fault rate on submits, then the exactly-once check."""
    provider = kycflow.DirectoryProvider(docs_dir)
    faults = Faults.from_dict({"seed": 7, "rates": {"submit": {"reset_after": 0.2}}})
    async with Sandbox(Scenario.default(), faults=faults) as sb:
        users = sb.create_users(5)
        for user in users:
            auth = kycflow.BearerToken(user.access_token)
            async with kycflow.Client(sb.base_url, auth=auth) as client:
                await kycflow.WizardRunner(client, provider).run()
        sb.assert_each_step_submitted_once()
        assert sb.faults_injected(route="submit", kind="reset_after")  # the faults did happen
        assert all(sb.level_of(u) == 2 for u in users)
