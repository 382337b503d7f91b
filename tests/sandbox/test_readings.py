"""The sandbox's readings of the wizard envelope and of errors (NOTES.md), over real HTTP."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

from kycflow.testing import DocType, LevelSpec, Quirks, Sandbox, Scenario, Step
from kycflow.testing.scenario import ERROR_BODIES, SUBMIT_REPLIES, ScenarioError

WIZARD = "/v2/my/verifications/wizard"


def _scenario(**quirks: Any) -> Scenario:
    return dataclasses.replace(Scenario.default(), quirks=Quirks(**quirks))


@pytest.mark.parametrize("reading", SUBMIT_REPLIES)
async def test_submit_reply_readings(api: Any, reading: str) -> None:
    async with Sandbox(_scenario(submit_reply=reading, start_done=False)) as sb:
        me = api(sb, sb.create_user())
        start = (await me.get(WIZARD))[1]
        assert start["done"] is False
        status, reply, _ = await me.submit(start["uuid"], 2, [await me.stored()])
        nxt = (await me.get(WIZARD))[1]
        assert [t["id"] for t in nxt["data"]["types"]] == [3]  # committed in every reading
        if reading == "echo":
            assert (status, reply["code"], reply["data"]) == (200, 200, {"types": ["2"]})
        elif reading == "next_step":
            assert (status, reply) == (200, nxt)
        else:
            assert (status, reply) == ((202, None) if reading == "empty_202" else (204, None))


async def test_empty_readings_show_the_end_once_through_the_wizard(api: Any) -> None:
    async with Sandbox(_scenario(submit_reply="empty_204")) as sb:
        user = sb.create_user()
        me = api(sb, user)
        uuid = (await me.get(WIZARD))[1]["uuid"]
        for type_id, data in ((2, None), (3, None), (4, b"%PDF-1.4\n" + b"p" * 300)):
            path = (
                await me.stored()
                if data is None
                else await me.stored(data, "p.pdf", "application/pdf")
            )
            assert (await me.submit(uuid, type_id, [path]))[0] == 204
        end = (await me.get(WIZARD))[1]
        assert (end["code"], end["done"], end["uuid"]) == (202, True, uuid)
        assert sb.completed_procedures(user) == [uuid]


async def test_start_done_is_the_reference_reading_by_default(api: Any) -> None:
    async with Sandbox() as sb:
        start = (await api(sb, sb.create_user()).get(WIZARD))[1]
        assert (start["code"], start["done"]) == (200, True)


async def test_a_202_with_done_false_ends_the_wizard_without_success(api: Any) -> None:
    scenario = Scenario(
        levels=(LevelSpec(1, "L0"), LevelSpec(2, "L1")),
        initial_level=1,
        steps=(Step(types=(DocType(3, "Selfie"),)),),
        quirks=Quirks(final_done=False),
    )
    async with Sandbox(scenario) as sb:
        user = sb.create_user()
        me = api(sb, user)
        uuid = (await me.get(WIZARD))[1]["uuid"]
        status, end, _ = await me.submit(uuid, 3, [await me.stored()])
        assert (status, end["code"], end["done"]) == (200, 202, False)
        again = (await me.get(WIZARD))[1]
        assert (again["code"], again["done"], again["uuid"]) == (202, False, uuid)
        assert sb.level_of(user) == 1  # nothing granted


@pytest.mark.parametrize("refusal", ["same", "fewer"])
async def test_refused_documents_ask_the_step_again_with_the_reason(api: Any, refusal: str) -> None:
    scenario = Scenario(
        levels=(LevelSpec(1, "L0"), LevelSpec(2, "L1")),
        initial_level=1,
        steps=(
            Step(types=(DocType(2, "Passport", refuse="the photo is blurred"), DocType(1, "ID"))),
        ),
        quirks=Quirks(submit_reply="next_step", refusal=refusal),  # type: ignore[arg-type]
    )
    async with Sandbox(scenario) as sb:
        user = sb.create_user()
        me = api(sb, user)
        start = (await me.get(WIZARD))[1]
        status, reply, _ = await me.submit(start["uuid"], 2, [await me.stored()])
        assert (status, reply["code"], reply["message"]) == (200, 200, "the photo is blurred")
        ids = [t["id"] for t in reply["data"]["types"]]
        assert ids == ([2, 1] if refusal == "same" else [1])
        assert sb.submissions(user) == []
        status, end, _ = await me.submit(start["uuid"], 1, [await me.stored()])
        assert (status, end["code"], end["done"]) == (200, 202, True)


async def test_an_sdk_step_names_the_sdk_and_carries_no_types(api: Any) -> None:
    scenario = Scenario(
        levels=(LevelSpec(1, "L0"), LevelSpec(2, "L1")),
        initial_level=1,
        steps=(Step(types=(), sdk="IdenfySDK"),),
    )
    assert Scenario.from_dict(scenario.to_dict()) == scenario
    async with Sandbox(scenario) as sb:
        me = api(sb, sb.create_user())
        step = (await me.get(WIZARD))[1]
        assert (step["code"], step["data"]) == (200, None)
        assert step["workflow"] == "B2B\\TCA\\Wizards\\Workflow\\IdenfySDK"
        status, body, _ = await me.submit(step["uuid"], 2, [await me.stored()])
        assert status == 400
        assert "IdenfySDK" in json.dumps(body)


@pytest.mark.parametrize("shape", ERROR_BODIES)
async def test_error_body_shapes(api: Any, shape: str) -> None:
    scenario = dataclasses.replace(
        Scenario.default(),
        steps=(Step(types=(DocType(1, "ID card", min_files=2),)),),
        quirks=Quirks(error_body=shape),  # type: ignore[arg-type]
    )
    async with Sandbox(scenario) as sb:
        me = api(sb, sb.create_user())
        uuid = (await me.get(WIZARD))[1]["uuid"]
        status, body, headers = await me.submit(uuid, 1, [await me.stored()])
        assert status == 400
        text = body if isinstance(body, str) else json.dumps(body)
        assert "document type 1 needs 2 files" in text
        content_type = headers["Content-Type"]
        expected = {
            "problem": "application/problem+json",
            "text": "text/plain",
            "html": "text/html",
        }
        assert content_type.startswith(expected.get(shape, "application/json"))


def test_unknown_reading_names_are_refused() -> None:
    for bad in ({"submit_reply": "nope"}, {"error_body": "xml"}, {"refusal": "some"}):
        with pytest.raises(ScenarioError):
            Quirks(**bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("factor", ["google", "sms", "email"])
async def test_sign_in_with_a_factor_choice_step(api: Any, factor: str) -> None:
    async with Sandbox(_scenario(signin_factor_choice=True)) as sb:
        user = sb.create_user(second_factor=factor)
        anon = api(sb, None)
        uuid = (await anon.get("/v2/my/signin/wizard"))[1]["uuid"]
        fingerprint = "eyJ1c2VyX2FnZW50IjogInQifQ"  # {"user_agent": "t"}
        body = {"uuid": uuid, "email": user.email, "password": user.password}
        status, ask, _ = await anon.post(
            "/v2/my/signin", {**body, "device_fingerprint": fingerprint}
        )
        assert (status, ask["code"], ask["data"]) == (200, 200, {"factors": [factor]})
        other = "sms" if factor != "sms" else "google"
        assert (await anon.post("/v2/my/signin/2fa", {"uuid": uuid, "type": other}))[0] == 400
        status, chosen, _ = await anon.post("/v2/my/signin/2fa", {"uuid": uuid, "type": factor})
        assert (status, chosen["data"]) == (200, {"type": factor})
        status, tokens, _ = await anon.post(
            f"/v2/my/2fa/{factor}", {"uuid": uuid, "code": user.code}
        )
        assert (status, tokens["code"]) == (200, 202)
        assert tokens["data"]["accessToken"]["token"]
