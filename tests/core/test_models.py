"""Models on the reference's samples (JSON syntax repaired) and on each quirk of NOTES.md."""

from __future__ import annotations

import pickle
from typing import Any

import pytest
from corekit import load_fixture

from kycflow.models import TokenPair, Verification, VerificationPage, WizardStep


def test_history_sample() -> None:
    page = VerificationPage.model_validate(load_fixture("verifications_history.json"))
    assert page.total == 2
    first, second = page.data
    assert first.id == 75
    assert first.client_id == 222
    assert first.current_level is not None
    assert first.current_level.name == "Level 1"
    assert first.previous_level is not None
    assert first.previous_level.id == 1
    assert first.user_id == 1
    assert first.reason is not None
    assert first.reason.name == "Application: 838"
    assert second.previous_level is None


def test_details_sample() -> None:
    payload = load_fixture("verification_details.json")
    page = VerificationPage.model_validate(payload)
    assert page.data[0].id == 18
    assert page.data[0].user_id == 11


def test_wizard_start_sample() -> None:
    step = WizardStep.from_envelope(load_fixture("wizard_start.json"))
    assert step.code == 202
    assert step.done
    assert step.is_final
    assert [t.id for t in step.types] == [2]
    assert step.types[0].description == "Passport"
    assert step.uuid == "36f59381-5b54-48bd-a0c7-3b908c476732"
    assert step.workflow.endswith("TerminateWorkflow")


def test_wizard_submit_reply_sample() -> None:
    step = WizardStep.from_envelope(load_fixture("wizard_submit_reply.json"))
    assert step.is_final
    assert step.types == []


def test_submit_request_sample_shape() -> None:
    body = load_fixture("wizard_submit_request.json")
    assert set(body["data"]) == {"documents", "uuid"}


def test_previous_level_typo() -> None:
    v = Verification.model_validate({"id": 1, "previuosLevel": {"id": 3, "name": "L2"}})
    assert v.previous_level is not None
    assert v.previous_level.id == 3


@pytest.mark.parametrize("user_id", [1, "1"])
def test_user_id_int_or_numeric_string(user_id: Any) -> None:
    assert Verification.model_validate({"id": 1, "userId": user_id}).user_id == 1


@pytest.mark.parametrize(("name", "expected"), [("created", "created"), (7, "7"), (None, None)])
def test_reason_name_str_or_int(name: Any, expected: str | None) -> None:
    v = Verification.model_validate({"id": 1, "reason": {"name": name}})
    assert v.reason is not None
    assert v.reason.name == expected


def test_create_time_aware() -> None:
    v = Verification.model_validate({"id": 1, "createTime": "2022-01-01T00:00:00+02:00"})
    assert v.create_time is not None
    assert v.create_time.utcoffset() is not None
    naive = Verification.model_validate({"id": 1, "createTime": "2022-01-01T00:00:00"})
    assert naive.create_time is not None
    assert naive.create_time.tzinfo is not None


def test_unknown_fields_kept() -> None:
    v = Verification.model_validate({"id": 1, "brandNew": {"x": 1}})
    assert v.model_extra == {"brandNew": {"x": 1}}
    step = WizardStep.from_envelope({"code": 200, "data": None, "extra": 5})
    assert step.model_extra is not None
    assert step.model_extra["extra"] == 5


DOC = {"id": 2, "description": "Passport", "enabled": True, "example": "", "group": {}}


@pytest.mark.parametrize(
    "data",
    [
        {"types": [DOC]},
        {"types": DOC},
        [DOC],
        [{"types": DOC}],
        DOC,
    ],
)
def test_every_data_shape(data: Any) -> None:
    step = WizardStep.from_envelope({"code": 200, "data": data, "uuid": "u"})
    assert [t.id for t in step.types] == [2]
    # ``raw_data`` keeps ``data`` only when it may say more than the types (``types`` holds them).
    if isinstance(data, dict) and set(data) != {"types"}:
        assert step.raw_data == data
    else:
        assert step.raw_data is None
    extra = WizardStep.from_envelope({"code": 200, "data": {"types": [DOC], "message": "m"}})
    assert extra.raw_data == {"types": [DOC], "message": "m"}
    assert extra.reason() == "m"


@pytest.mark.parametrize("data", [None, {"types": []}, [], {"types": ["passport"]}])
def test_empty_data_shapes(data: Any) -> None:
    assert WizardStep.from_envelope({"code": 200, "data": data}).types == []


def test_doc_type_group_as_php_empty_array_and_unknown_fields() -> None:
    step = WizardStep.from_envelope(
        {"code": 200, "data": [{**DOC, "group": [], "example": None, "more": 1}]}
    )
    assert step.types[0].group == {}
    assert step.types[0].model_extra == {"more": 1}


def test_token_pair_secret_repr() -> None:
    pair = TokenPair.model_validate(
        {"accessToken": {"token": "AAA-secret"}, "refreshToken": {"token": "RRR-secret"}}
    )
    assert "AAA-secret" not in repr(pair)
    assert "RRR-secret" not in repr(pair)
    assert pair.access_token.token.get_secret_value() == "AAA-secret"


def test_models_pickle_under_their_public_module() -> None:
    # A pickle names its class's module: an arq worker on another release (one before the
    # models became a package) must load a job's pickled errors and the models they hold.
    import kycflow.models

    step = WizardStep.from_envelope(
        {"code": 200, "uuid": "u-1", "data": {"types": [{"id": 2, "description": "Passport"}]}}
    )
    for name in kycflow.models.__all__:
        value = getattr(kycflow.models, name)
        if isinstance(value, type):
            assert value.__module__ == "kycflow.models", name
    data = pickle.dumps(step)
    assert b"kycflow.models.wizard" not in data
    assert b"kycflow.models.account" not in data
    assert pickle.loads(data) == step
