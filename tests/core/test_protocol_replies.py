"""Replies that say nothing, 2xx replies that are errors, every error-body shape, the sign-in
variants and the client's upload limits, through the real client over loopback HTTP."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from corekit import FakeServer, envelope, reply, token_data

import kycflow
from kycflow import errors as e
from kycflow.testing import Quirks, Sandbox, Scenario

SUBMIT = "/v2/my/verifications"
WIZARD = "/v2/my/verifications/wizard"
HISTORY = "/v2/my/verifications"


@pytest.mark.parametrize(
    ("status", "raw", "content_type"),
    [
        (202, b"", "application/json"),
        (204, b"", "application/json"),
        (200, b'{"ok": true}', "application/json"),
        (201, b"accepted", "text/plain"),
    ],
)
async def test_a_submit_reply_that_says_nothing_is_an_unknown_outcome(
    server: FakeServer, client: kycflow.Client, status: int, raw: bytes, content_type: str
) -> None:
    server.route("POST", SUBMIT, reply(status=status, raw=raw, content_type=content_type))
    with pytest.raises(e.OutcomeUnknownError) as info:
        await client.wizard.submit("wiz-1", 2, ["u/a.jpg"])
    assert isinstance(info.value.cause, e.ProtocolError)
    assert info.value.cause.status == status
    assert "may have reached the server" in str(info.value) or "read it" in str(info.value)
    assert len(server.requests_to("POST", SUBMIT)) == 1  # never resent


@pytest.mark.parametrize(
    "payload",
    [
        {"error": {"message": "not allowed", "details": [{"issue": "level is locked"}]}},
        {"error": "not allowed"},
        {"errors": [{"message": "not allowed"}]},
    ],
)
async def test_a_2xx_error_object_is_a_protocol_error(
    server: FakeServer, client: kycflow.Client, payload: Any
) -> None:
    server.route("GET", WIZARD, reply(payload))
    server.route("POST", SUBMIT, reply(payload))
    server.route("GET", HISTORY, reply(payload))
    with pytest.raises(e.ProtocolError) as info:
        await client.wizard.start()
    assert "not allowed" in str(info.value)
    with pytest.raises(e.ProtocolError):
        await client.verifications.list()
    # A submit answered so says nothing of the wizard (NOTES.md: read it to learn whether the
    # step was committed): an unknown outcome, its cause the protocol error with the server's words.
    with pytest.raises(e.OutcomeUnknownError) as unknown:
        await client.wizard.submit("wiz-1", 2, ["u/a.jpg"])
    assert isinstance(unknown.value.cause, e.ProtocolError)
    assert "not allowed" in str(unknown.value)
    assert len(server.requests_to("POST", SUBMIT)) == 1  # never resent by the transport


async def test_an_envelope_whose_error_field_is_a_refusal_reason_is_a_step(
    server: FakeServer, client: kycflow.Client
) -> None:
    page = {
        "code": 200,
        "done": False,
        "uuid": "wiz-1",
        "workflow": "w",
        "data": {"types": [{"id": 2, "description": "Passport", "enabled": True}]},
        "error": {"message": "face not visible"},
    }
    server.route("POST", SUBMIT, reply(page))
    step = await client.wizard.submit("wiz-1", 2, ["u/a.jpg"])
    assert [t.id for t in step.types] == [2]
    assert step.reason() == "face not visible"


async def test_a_history_page_without_data_is_a_protocol_error(
    server: FakeServer, client: kycflow.Client
) -> None:
    server.route("GET", HISTORY, reply({"total": 4}))
    with pytest.raises(e.ProtocolError):
        await client.verifications.list()


async def test_a_start_reply_without_a_code_is_a_protocol_error(
    server: FakeServer, client: kycflow.Client
) -> None:
    server.route("GET", WIZARD, reply({"uuid": "x", "data": None}))
    with pytest.raises(e.ProtocolError):
        await client.wizard.start()


@pytest.mark.parametrize(
    ("body", "content_type", "message", "issue"),
    [
        (
            b'{"error": {"message": "Bad Request", "details": [{"issue": "needs 2 files"}]}}',
            "application/json",
            "Bad Request",
            "needs 2 files",
        ),
        (
            b'{"message": "Bad Request", "details": ["needs 2 files"]}',
            "application/json",
            "Bad Request",
            "needs 2 files",
        ),
        (
            b'{"errors": [{"message": "needs 2 files"}]}',
            "application/json",
            "needs 2 files",
            "needs 2 files",
        ),
        (
            b'{"type": "about:blank", "title": "Bad Request", "detail": "needs 2 files",'
            b' "violations": [{"propertyPath": "data", "title": "needs 2 files"}]}',
            "application/problem+json",
            "Bad Request: needs 2 files",
            "needs 2 files",
        ),
        (b"Bad Request: needs 2 files", "text/plain", "Bad Request: needs 2 files", None),
        (
            b"<html><head><title>400 Bad Request</title></head>"
            b"<body><p>needs 2 files</p></body></html>",
            "text/html",
            "Bad Request",
            "needs 2 files",
        ),
    ],
    ids=["error_object", "message", "errors", "problem", "text", "html"],
)
async def test_every_error_body_shape_gives_the_servers_words(
    server: FakeServer,
    client: kycflow.Client,
    body: bytes,
    content_type: str,
    message: str,
    issue: str | None,
) -> None:
    server.route("POST", SUBMIT, reply(status=400, raw=body, content_type=content_type))
    with pytest.raises(e.BadRequestError) as info:
        await client.wizard.submit("wiz-1", 1, ["u/a.jpg"])
    error = info.value
    assert error.message == message
    if issue is not None:
        assert any(issue in str(d) for d in error.details)
    assert "needs 2 files" in str(error)
    assert "400" in str(error)


async def test_a_wizard_step_read_back_has_the_reference_semantics(
    server: FakeServer, client: kycflow.Client
) -> None:
    server.route("GET", WIZARD, reply(envelope(200, {"types": []}, done=True)))
    step = await client.wizard.start()
    # done on the start call means "initialised": it ends nothing.
    assert (step.is_final, step.succeeded) == (False, False)


@pytest.mark.parametrize("factor", ["google", "sms", "email"])
async def test_sign_in_through_a_factor_choice_step(factor: str) -> None:
    scenario = dataclasses.replace(Scenario.default(), quirks=Quirks(signin_factor_choice=True))
    async with Sandbox(scenario) as sb:
        user = sb.create_user(second_factor=factor, code="424242")
        asked: list[str] = []
        offered: list[list[str]] = []

        async def code(kind: str) -> str:
            asked.append(kind)
            return "424242"

        async def choose(kinds: Any) -> str:
            offered.append(list(kinds))
            return str(kinds[0])

        async with kycflow.Client(sb.base_url) as client:
            auth = await client.sign_in(
                user.email, user.password, second_factor=code, choose_factor=choose
            )
            page = await client.with_auth(auth).verifications.list()
        assert (offered, asked) == ([[factor]], [factor])
        assert page.total == 1
        routes = [r.route for r in sb.requests() if r.route != "history"]
        assert routes == ["signin_wizard", "signin", "signin_2fa", "2fa"]


async def test_the_email_factor_without_a_choice_step() -> None:
    async with Sandbox() as sb:
        user = sb.create_user(second_factor="email")
        async with kycflow.Client(sb.base_url) as client:

            async def code(kind: str) -> str:
                assert kind == "email"
                return user.code

            auth = await client.sign_in(user.email, user.password, second_factor=code)
            assert (await client.with_auth(auth).wizard.start()).code == 200


async def test_files_validate_uses_the_clients_limits(server: FakeServer) -> None:
    jpeg = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 3000
    async with kycflow.Client(server.base_url, max_upload_bytes=1000) as small:
        with pytest.raises(e.DocumentError) as info:
            await small.files.validate(jpeg, name="a.jpg")
        assert "1000" in str(info.value)
    async with kycflow.Client(server.base_url) as default:
        doc = await default.files.validate(jpeg, name="a.jpg")
        assert doc.content_type == "image/jpeg"
    assert server.requests_to("POST", "/v2/my/files") == []


async def test_a_factor_choice_acknowledged_without_naming_it(
    server: FakeServer, client: kycflow.Client
) -> None:
    server.route("GET", "/v2/my/signin/wizard", reply(envelope(200, None, uuid="sig-1")))
    server.route(
        "POST", "/v2/my/signin", reply(envelope(200, {"types": ["sms", "google"]}, uuid="sig-1"))
    )
    server.route("POST", "/v2/my/signin/2fa", reply(envelope(200, None, uuid="sig-1")))
    server.route(
        "POST", "/v2/my/2fa/google", reply(envelope(202, token_data("a-1", "r-1"), done=True))
    )

    async def choose(kinds: Any) -> str:
        assert list(kinds) == ["sms", "google"]
        return "google"

    async def code(kind: str) -> str:
        return "000111"

    auth = await client.sign_in("a@x.test", "pw", second_factor=code, choose_factor=choose)
    assert auth.tokens.access_token.token.get_secret_value() == "a-1"
    assert server.requests_to("POST", "/v2/my/signin/2fa")[0].json() == {
        "uuid": "sig-1",
        "type": "google",
    }
    assert server.requests_to("POST", "/v2/my/2fa/google")[0].json()["code"] == "000111"


@pytest.mark.parametrize("final", [202, 200])
async def test_sign_in_done_true_on_a_200_asks_for_the_second_factor(
    server: FakeServer, client: kycflow.Client, final: int
) -> None:
    # ``done`` on the password step means "that step succeeded"; only 202 (or tokens) ends it.
    server.route("GET", "/v2/my/signin/wizard", reply(envelope(200, None, uuid="sig-1")))
    server.route(
        "POST",
        "/v2/my/signin",
        reply(envelope(200, {"type": "google"}, done=True, uuid="sig-1")),
    )
    server.route(
        "POST", "/v2/my/2fa/google", reply(envelope(final, token_data("a-2", "r-2"), done=True))
    )
    asked: list[str] = []

    async def code(kind: str) -> str:
        asked.append(kind)
        return "123456"

    auth = await client.sign_in("a@x.test", "pw", second_factor=code)
    assert asked == ["google"]
    assert auth.tokens.access_token.token.get_secret_value() == "a-2"
    assert len(server.requests_to("POST", "/v2/my/2fa/google")) == 1
