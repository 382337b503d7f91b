"""The four verification endpoints, uploads and the wizard's semantics, over real HTTP."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from kycflow.models import VerificationPage, WizardStep
from kycflow.testing import DocType, LevelSpec, Quirks, Sandbox, Scenario, Step

JPEG = b"\xff\xd8\xff\xe0" + b"j" * 2000
PDF = b"%PDF-1.4\n" + b"p" * 3000


async def test_full_default_flow_grants_a_level(sb: Sandbox, api: Any) -> None:
    user = sb.create_user()
    me = api(sb, user)
    status, step, headers = await me.get("/v2/my/verifications/wizard")
    assert status == 200
    assert headers["X-Request-Id"]
    assert step["code"] == 200
    # The reference's reading (the default): on the start call done means "initialised".
    assert step["done"] is True
    assert [t["id"] for t in step["data"]["types"]] == [2, 1]
    uuid = step["uuid"]
    # The open procedure comes back unchanged until it moves.
    again = (await me.get("/v2/my/verifications/wizard"))[1]
    assert again == step

    passport = await me.stored()
    status, step, _ = await me.submit(uuid, 2, [passport])
    assert status == 200
    # The submit reply echoes the submitted type; the next page is read with the wizard call.
    assert (step["code"], step["data"], step["done"]) == (200, {"types": ["2"]}, False)
    step = (await me.get("/v2/my/verifications/wizard"))[1]
    assert [t["id"] for t in step["data"]["types"]] == [3]
    assert step["uuid"] == uuid
    selfie = await me.stored()
    status, step, _ = await me.submit(uuid, 3, [selfie])
    assert step["data"] == {"types": ["3"]}
    step = (await me.get("/v2/my/verifications/wizard"))[1]
    assert [t["id"] for t in step["data"]["types"]] == [4]
    proof = await me.stored(PDF, "proof.pdf", "application/pdf")
    status, step, _ = await me.submit(uuid, 4, [proof])
    assert status == 200
    assert step["code"] == 202
    assert step["done"] is True
    assert step["uuid"] == uuid
    assert step["workflow"] == sb.scenario.final_workflow

    status, page, _ = await me.get("/v2/my/verifications")
    assert status == 200
    assert page["total"] == 2
    newest = page["data"][0]
    assert newest["currentLevel"] == {"id": 2, "name": "Level 1"}
    assert newest["previousLevel"] == {"id": 1, "name": "Level 0"}
    assert newest["reason"]["name"].startswith("Application: ")
    assert newest["createTime"].endswith("+00:00")
    assert page["data"][1]["previousLevel"] is None
    assert sb.level_of(user) == 2
    assert VerificationPage.model_validate(page).data[0].current_level is not None

    status, done, _ = await me.get("/v2/my/verifications/wizard")
    assert status == 200
    assert (done["code"], done["done"], done["data"]) == (202, True, None)

    subs = sb.submissions(user)
    assert [(s.step, s.type) for s in subs] == [(0, 2), (1, 3), (2, 4)]
    assert subs[-1].completed
    assert sb.completed_procedures(user) == [uuid]
    sb.assert_each_step_submitted_once()


async def test_duplicate_submit_is_409_and_recorded(sb: Sandbox, api: Any) -> None:
    user = sb.create_user()
    me = api(sb, user)
    uuid = (await me.get("/v2/my/verifications/wizard"))[1]["uuid"]
    path = await me.stored()
    assert (await me.submit(uuid, 2, [path]))[0] == 200
    status, body, headers = await me.submit(uuid, 2, [path])
    assert status == 409
    assert body["error"]["details"][0]["issue"]
    assert "X-Request-Id" in headers
    assert [(d.uuid, d.type, d.files) for d in sb.duplicates()] == [(uuid, 2, (path,))]
    assert len(sb.submissions()) == 1
    with pytest.raises(AssertionError, match="duplicate"):
        sb.assert_each_step_submitted_once()


async def test_duplicate_of_a_completed_procedure_is_409(sb: Sandbox, api: Any) -> None:
    me = api(sb, sb.create_user())
    uuid = await me.complete()
    last = sb.submissions()[-1]
    assert (await me.submit(uuid, last.type, list(last.files)))[0] == 409
    assert len(sb.duplicates()) == 1


@pytest.mark.parametrize(
    ("mutate", "issue"),
    [
        (lambda u, p: {"data": {"documents": {"type": 2, "files": [p]}, "uuid": "nope"}}, "uuid"),
        (lambda u, p: {"data": {"documents": {"type": 3, "files": [p]}, "uuid": u}}, "type 3"),
        (lambda u, p: {"data": {"documents": {"type": 2, "files": ["x/y"]}, "uuid": u}}, "file"),
        (lambda u, p: {"data": {"documents": {"type": 2, "files": []}, "uuid": u}}, "needs"),
        (lambda u, p: {"data": {"documents": {"type": "2", "files": [p]}, "uuid": u}}, "type"),
        (lambda u, p: {"data": {"uuid": u}}, "documents"),
        (lambda u, p: [1, 2], "object"),
    ],
)
async def test_invalid_submits_are_400(sb: Sandbox, api: Any, mutate: Any, issue: str) -> None:
    me = api(sb, sb.create_user())
    uuid = (await me.get("/v2/my/verifications/wizard"))[1]["uuid"]
    path = await me.stored()
    status, body, _ = await me.post("/v2/my/verifications", mutate(uuid, path))
    assert status == 400
    assert issue in body["error"]["details"][0]["issue"]
    assert body["error"]["message"]
    assert sb.submissions() == []


async def test_files_of_another_user_are_refused(sb: Sandbox, api: Any) -> None:
    alice, bob = api(sb, sb.create_user()), api(sb, sb.create_user())
    uuid = (await alice.get("/v2/my/verifications/wizard"))[1]["uuid"]
    bobs = await bob.stored()
    assert (await alice.submit(uuid, 2, [bobs]))[0] == 400


async def test_proof_of_address_must_be_pdf(sb: Sandbox, api: Any) -> None:
    me = api(sb, sb.create_user())
    uuid = (await me.get("/v2/my/verifications/wizard"))[1]["uuid"]
    for type_id in (2, 3):
        assert (await me.submit(uuid, type_id, [await me.stored()]))[0] == 200
    status, body, _ = await me.submit(uuid, 4, [await me.stored()])
    assert status == 400
    assert "not allowed" in body["error"]["details"][0]["issue"]


async def test_alternatives_and_disabled_types(api: Any) -> None:
    scenario = Scenario(
        levels=(LevelSpec(1, "L0"), LevelSpec(2, "L1"), LevelSpec(3, "L2")),
        initial_level=1,
        steps=(
            Step(
                types=(
                    DocType(5, "Driving licence", enabled=False),
                    DocType(2, "Passport"),
                    DocType(1, "ID card", min_files=2),
                )
            ),
        ),
    )
    async with Sandbox(scenario) as sb:
        me = api(sb, sb.create_user())
        step = (await me.get("/v2/my/verifications/wizard"))[1]
        assert [(t["id"], t["enabled"]) for t in step["data"]["types"]] == [
            (5, False),
            (2, True),
            (1, True),
        ]
        one = await me.stored()
        assert (await me.submit(step["uuid"], 5, [one]))[0] == 400
        assert (await me.submit(step["uuid"], 1, [one]))[0] == 400  # needs front and back
        status, end, _ = await me.submit(step["uuid"], 1, [one, await me.stored()])
        assert (status, end["code"]) == (200, 202)
        # Three levels: a second procedure follows, with a new uuid.
        second = (await me.get("/v2/my/verifications/wizard"))[1]
        assert second["code"] == 200
        assert second["uuid"] != step["uuid"]
        assert (await me.submit(second["uuid"], 2, [one]))[1]["code"] == 202
        assert (await me.get("/v2/my/verifications/wizard"))[1]["code"] == 202
        assert sb.level_of(me.user) == 3
        assert len(sb.history(me.user)) == 3
        sb.assert_each_step_submitted_once()


async def test_stalled_step_comes_back_unchanged(api: Any) -> None:
    scenario = Scenario(
        levels=(LevelSpec(1, "L0"), LevelSpec(2, "L1")),
        initial_level=1,
        steps=(Step(types=(DocType(2, "Passport"),), stall=True),),
    )
    async with Sandbox(scenario) as sb:
        me = api(sb, sb.create_user())
        step = (await me.get("/v2/my/verifications/wizard"))[1]
        path = await me.stored()
        for _ in range(3):
            status, again, _ = await me.submit(step["uuid"], 2, [path])
            assert (status, again["code"], again["data"]) == (200, 200, {"types": ["2"]})
            assert (await me.get("/v2/my/verifications/wizard"))[1] == step
        assert sb.submissions() == []
        assert sb.duplicates() == []


async def test_user_created_at_the_top_level_has_nothing_to_do(sb: Sandbox, api: Any) -> None:
    me = api(sb, sb.create_user(level=2))
    body = (await me.get("/v2/my/verifications/wizard"))[1]
    assert (body["code"], body["done"], body["data"]) == (202, True, None)


async def test_history_paging_sorting_filters(sb: Sandbox, api: Any) -> None:
    scenario = Scenario(
        levels=tuple(LevelSpec(i, f"Level {i}") for i in range(1, 5)),
        initial_level=1,
        steps=(Step(types=(DocType(2, "Passport"),)),),
    )
    async with Sandbox(scenario) as sb2:
        me = api(sb2, sb2.create_user())
        path = await me.stored()
        for _ in range(3):
            step = (await me.get("/v2/my/verifications/wizard"))[1]
            assert (await me.submit(step["uuid"], 2, [path]))[0] == 200
        status, page, _ = await me.get(
            "/v2/my/verifications", limit=2, offset=0, sort_by="createTime", sort_order="asc"
        )
        assert status == 200
        assert page["total"] == 4
        assert [e["currentLevel"]["id"] for e in page["data"]] == [1, 2]
        page2 = (await me.get("/v2/my/verifications", limit=2, offset=2, sort_order="asc"))[1]
        assert [e["currentLevel"]["id"] for e in page2["data"]] == [3, 4]
        desc = (await me.get("/v2/my/verifications", sort_order="desc"))[1]
        assert [e["currentLevel"]["id"] for e in desc["data"]] == [4, 3, 2, 1]
        filtered = (await me.get("/v2/my/verifications", **{"filter[currentLevel]": "3"}))[1]
        assert filtered["total"] == 1
        assert filtered["data"][0]["currentLevel"]["id"] == 3
        for bad in ({"limit": "x"}, {"sort_by": "id"}, {"sort_order": "up"}, {"offset": "-1"}):
            assert (await me.get("/v2/my/verifications", **bad))[0] == 400


async def test_details_envelope_and_404(sb: Sandbox, api: Any) -> None:
    user = sb.create_user()
    me = api(sb, user)
    vid = sb.history(user)[0]["id"]
    status, body, _ = await me.get(f"/v2/my/verifications/{vid}")
    assert status == 200
    assert body["total"] == 1
    assert body["data"][0]["id"] == vid
    other = sb.create_user()
    status, body, headers = await api(sb, other).get(f"/v2/my/verifications/{vid}")
    assert status == 404
    assert body["error"]["details"][0]["issue"]
    assert "X-Request-Id" in headers
    assert (await me.get("/v2/my/verifications/abc"))[0] == 404


@pytest.mark.parametrize("shape", ["types_list", "types_object", "bare_list", "reference"])
async def test_wizard_data_shapes(api: Any, shape: str) -> None:
    scenario = Scenario(
        levels=(LevelSpec(1, "L0"), LevelSpec(2, "L1")),
        initial_level=1,
        steps=(Step(types=(DocType(3, "Selfie"),)), Step(types=(DocType(2, "P"), DocType(1, "I")))),
        quirks=Quirks(wizard_data=shape),  # type: ignore[arg-type]
    )
    async with Sandbox(scenario) as sb:
        me = api(sb, sb.create_user())
        step = (await me.get("/v2/my/verifications/wizard"))[1]
        expected = {
            "types_list": {
                "types": [
                    {"id": 3, "description": "Selfie", "enabled": True, "example": "", "group": {}}
                ]
            },
            "types_object": {
                "types": {
                    "id": 3,
                    "description": "Selfie",
                    "enabled": True,
                    "example": "",
                    "group": {},
                }
            },
            "bare_list": [
                {"id": 3, "description": "Selfie", "enabled": True, "example": "", "group": {}}
            ],
            "reference": [
                {
                    "types": {
                        "id": 3,
                        "description": "Selfie",
                        "enabled": True,
                        "example": "",
                        "group": {},
                    }
                }
            ],
        }[shape]
        assert step["data"] == expected
        assert [t.id for t in WizardStep.from_envelope(step).types] == [3]
        echo = (await me.submit(step["uuid"], 3, [await me.stored()]))[1]
        assert WizardStep.from_envelope(echo).types == []  # strings name the submitted type
        nxt = (await me.get("/v2/my/verifications/wizard"))[1]
        assert [t.id for t in WizardStep.from_envelope(nxt).types] == [2, 1]


async def test_history_quirks(api: Any) -> None:
    quirks = Quirks(
        previous_level_key="previuosLevel",
        user_id_as_string=True,
        reason_name_as_int=True,
        details_envelope=False,
    )
    async with Sandbox(Scenario(**{**_default_fields(), "quirks": quirks})) as sb:
        me = api(sb, sb.create_user())
        await me.complete()
        entry = (await me.get("/v2/my/verifications"))[1]["data"][0]
        assert "previousLevel" not in entry
        assert entry["previuosLevel"] == {"id": 1, "name": "Level 0"}
        assert entry["userId"] == "1"
        assert isinstance(entry["reason"]["name"], int)
        details = (await me.get(f"/v2/my/verifications/{entry['id']}"))[1]
        assert details == entry  # a bare object, not the list envelope


def _default_fields() -> dict[str, Any]:
    base = Scenario.default()
    return {"levels": base.levels, "steps": base.steps, "initial_level": base.initial_level}


async def test_submit_trailing_slash_accept_and_redirect(http: aiohttp.ClientSession) -> None:
    for mode in ("accept", "redirect"):
        quirks = Quirks(submit_trailing_slash=mode)  # type: ignore[arg-type]
        async with Sandbox(Scenario(**{**_default_fields(), "quirks": quirks})) as sb:
            user = sb.create_user()
            auth = {"Authorization": f"Bearer {user.access_token}"}
            async with http.get(sb.url("/v2/my/verifications/wizard"), headers=auth) as r:
                uuid = (await r.json())["uuid"]
            form = aiohttp.FormData()
            form.add_field("file", JPEG, filename="p.jpg", content_type="image/jpeg")
            async with http.post(sb.url("/v2/my/files"), data=form, headers=auth) as r:
                path = (await r.json())["data"]["file"]
            body = {"data": {"documents": {"type": 2, "files": [path]}, "uuid": uuid}}
            async with http.post(
                sb.url("/v2/my/verifications/"), json=body, headers=auth, allow_redirects=False
            ) as r:
                if mode == "accept":
                    assert r.status == 200
                else:
                    assert r.status == 308
                    assert r.headers["Location"].endswith("/api/v2/my/verifications")
                    assert "X-Request-Id" in r.headers
            if mode == "redirect":
                async with http.post(sb.url("/v2/my/verifications/"), json=body, headers=auth) as r:
                    assert r.status == 200  # followed with the body
            assert len(sb.submissions()) == 1


async def test_upload_records_metadata_only(sb: Sandbox, api: Any) -> None:
    user = sb.create_user()
    me = api(sb, user)
    status, body, _ = await me.upload(PDF, "my proof.pdf", "application/pdf")
    assert status == 201
    path = body["data"]["file"]
    assert path.startswith(f"u{user.id}/")
    assert " " not in path
    (rec,) = sb.uploads(user)
    assert (rec.filename, rec.content_type, rec.size, rec.path) == (
        "my proof.pdf",
        "application/pdf",
        len(PDF),
        path,
    )
    import hashlib

    assert rec.sha256 == hashlib.sha256(PDF).hexdigest()
    assert not hasattr(rec, "data")


async def test_upload_top_level_file_quirk(api: Any) -> None:
    quirks = Quirks(upload_top_level_file=True)
    async with Sandbox(Scenario(**{**_default_fields(), "quirks": quirks})) as sb:
        status, body, _ = await api(sb, sb.create_user()).upload()
        assert status == 201
        assert isinstance(body["file"], str)


async def test_upload_over_limit_is_413(api: Any) -> None:
    async with Sandbox(max_upload_bytes=1000, upload_chunk_bytes=256) as sb:
        me = api(sb, sb.create_user())
        status, body, _ = await me.upload(b"x" * 5000)
        assert status == 413
        assert body["error"]["details"][0]["issue"]
        assert (await me.upload(b"x" * 1000))[0] == 201
        assert len(sb.uploads()) == 1


async def test_upload_malformed_requests_are_400(
    sb: Sandbox, api: Any, http: aiohttp.ClientSession
) -> None:
    me = api(sb, sb.create_user())
    assert (await me.post("/v2/my/files", {"file": "x"}))[0] == 400
    form = aiohttp.FormData()
    form.add_field("other", b"abc", filename="a.jpg")
    async with http.post(sb.url("/v2/my/files"), data=form, headers=me.headers()) as r:
        assert r.status == 400
    assert (await me.upload(b""))[0] == 400


async def test_upload_is_streamed_in_chunks(api: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from aiohttp import BodyPartReader

    sizes: list[int] = []
    original = BodyPartReader.read_chunk

    async def spy(self: BodyPartReader, size: int = 8192) -> bytes:
        chunk = await original(self, size)
        sizes.append(len(chunk))
        return chunk

    monkeypatch.setattr(BodyPartReader, "read_chunk", spy)
    async with Sandbox(upload_chunk_bytes=4096) as sb:
        assert (await api(sb, sb.create_user()).upload(b"z" * 100_000))[0] == 201
    assert max(sizes) <= 4096
    assert sum(sizes) == 100_000


async def test_unknown_path_gets_error_body_and_request_id(sb: Sandbox, api: Any) -> None:
    status, body, headers = await api(sb, sb.create_user()).get("/v2/my/nothing")
    assert status == 404
    assert body["error"]["message"]
    assert headers["X-Request-Id"]


async def test_many_users_interleave(sb: Sandbox, api: Any) -> None:
    import asyncio

    users = sb.create_users(40)
    await asyncio.gather(*(api(sb, u).complete() for u in users))
    assert len(sb.completed_procedures()) == 40
    sb.assert_each_step_submitted_once(users)
    ids = [r.request_id for r in sb.requests()]
    assert len(set(ids)) == len(ids)
