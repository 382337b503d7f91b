"""A server echoing the request in its error reply puts no secret into an exception or a log.

Hostile loopback servers answer each auth call (sign-in, second factor, refresh) and
authenticated calls with error replies of several shapes that quote the request: FastAPI's 422
``{"detail": [{"input": ...}]}``, the vendor's ``{"error": {"message", "details"}}``, a bare
``{"message"}``, plain text and HTML, and a numeric echo of the code.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
import structlog
from aiohttp import web
from seckit import (
    ACCESS,
    CODE,
    JPEG,
    PASSWORD,
    REFRESH,
    Origin,
    failure,
    json_reply,
    leaks,
    make_client,
    rendered,
)

import kycflow
from kycflow import errors as e


@pytest.fixture
async def api() -> AsyncIterator[Origin]:
    srv = Origin()
    await srv.start()
    yield srv
    await srv.close()


def _echo_body(shape: str, request: web.Request, body: bytes) -> web.Response:
    text = body.decode()
    sent: Any = json.loads(text) if text else {}
    auth = request.headers.get("Authorization", "")
    if shape == "fastapi":
        detail = [
            {"type": "value_error", "loc": ["body", k], "msg": "invalid", "input": v}
            for k, v in sent.items()
        ]
        detail.append({"type": "x", "loc": ["header"], "msg": "bad", "input": auth})
        return json_reply({"detail": detail, "body": sent}, status=422)
    if shape == "vendor":
        message = f"invalid request {text} with {auth}"
        details = [{"field": k, "issue": f"bad value {v!r}", "value": v} for k, v in sent.items()]
        return json_reply({"error": {"message": message, "details": details}}, status=400)
    if shape == "message":
        return json_reply({"message": f"rejected: {text} {auth}", "errors": [text]}, status=401)
    if shape == "numeric":
        numbers = {k: int(v) if isinstance(v, str) and v.isdigit() else v for k, v in sent.items()}
        return json_reply({"detail": [{"input": numbers}], "auth": auth}, status=422)
    if shape == "html":
        return web.Response(
            status=500, text=f"<html><pre>{text}\n{auth}</pre></html>", content_type="text/html"
        )
    # "long": the echo sits where a short excerpt cuts it in half.
    pad = "x" * 150
    return web.Response(status=400, text=f"{pad}{text}{auth}", content_type="text/plain")


SHAPES = ["fastapi", "vendor", "message", "numeric", "html", "long"]


def echoing(shape: str, failing: str) -> Any:
    async def handler(request: web.Request, body: bytes) -> web.StreamResponse:
        path = request.path
        if path == failing:
            return _echo_body(shape, request, body)
        if path.endswith("/signin/wizard"):
            return json_reply({"code": 200, "uuid": "u-1", "data": None})
        if path.endswith("/signin"):
            return json_reply({"code": 200, "uuid": "u-1", "data": {"type": "google"}})
        if path.endswith("/verifications/wizard"):
            return web.json_response({"detail": "token expired"}, status=401)
        return json_reply({"code": 200, "uuid": "u-1", "data": None})

    return handler


async def _sign_in(client: kycflow.Client) -> None:
    async def code(kind: str) -> str:
        return CODE

    await client.sign_in("a@b.c", PASSWORD, second_factor=code)


async def _refresh(client: kycflow.Client) -> None:
    await kycflow.SessionAuth(ACCESS, REFRESH).refresh(client)


async def _refresh_after_401(client: kycflow.Client) -> None:
    await client.with_auth(kycflow.SessionAuth(ACCESS, REFRESH)).wizard.start()


async def _submit(client: kycflow.Client) -> None:
    await client.with_auth(kycflow.BearerToken(ACCESS)).wizard.submit("u-1", 2, ["u/p.jpg"])


CALLS: dict[str, tuple[str, Callable[[kycflow.Client], Awaitable[None]]]] = {
    "sign-in": ("/api/v2/my/signin", _sign_in),
    "2fa": ("/api/v2/my/2fa/google", _sign_in),
    "refresh": ("/api/v2/my/refresh", _refresh),
    "refresh-after-401": ("/api/v2/my/refresh", _refresh_after_401),
    "submit": ("/api/v2/my/verifications", _submit),
}


SENT = {
    "sign-in": PASSWORD,
    "2fa": CODE,
    "refresh": REFRESH,
    "refresh-after-401": REFRESH,
    "submit": ACCESS,
}


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("call", list(CALLS))
async def test_echoed_secrets_are_scrubbed_from_the_error(
    api: Origin, call: str, shape: str
) -> None:
    path, run = CALLS[call]
    api.handler = echoing(shape, path)
    async with make_client(api.base_url) as client:
        with structlog.testing.capture_logs() as logs:
            exc = await failure(run(client))
    assert isinstance(exc, e.APIStatusError | e.OutcomeUnknownError), repr(exc)
    # The server did get (and echo) the secret: what is scrubbed was really there.
    assert api.seen[-1].path == path
    assert leaks(rendered(exc)) == []
    status_error = exc.cause if isinstance(exc, e.OutcomeUnknownError) else exc
    assert isinstance(status_error, e.APIStatusError)
    assert (
        leaks(repr(status_error.details) + status_error.body_excerpt + status_error.message) == []
    )
    assert leaks(repr(logs)) == []
    # The server's own words survive.
    if shape == "vendor":
        assert exc.message.startswith("invalid request")
        assert "[redacted]" in exc.message
    # What was scrubbed was there: the server's reply quoted the call's secret.
    assert leaks(api.replies[-1].decode(), [SENT[call]]) != []


def test_scrub_error_covers_escaped_and_cut_forms() -> None:
    from kycflow._http.secrets import scrub_error
    from kycflow._http.wire import error_from_response

    body = json.dumps({"error": {"message": f"no {PASSWORD}"}, "echo": [PASSWORD] * 3}).encode()
    error = error_from_response(400, {}, body)
    assert leaks(str(error) + repr(vars(error)), [PASSWORD])  # the parser alone quotes it
    scrub_error(error, [PASSWORD], body)
    assert leaks(str(error) + repr(vars(error)), [PASSWORD]) == []
    assert error.message == "no [redacted]"
    cut = ("y" * 190 + PASSWORD).encode()
    error = error_from_response(500, {}, cut)
    scrub_error(error, [PASSWORD], cut)
    # Not even the first half of the secret where the excerpt is cut short.
    assert PASSWORD[:8] not in error.body_excerpt + error.message


async def _run_with(client: kycflow.Client, auth: kycflow.Auth, events: list[Any]) -> None:
    async def on_event(event: Any) -> None:
        events.append(event)

    provider = kycflow.MemoryProvider({})
    # A 5xx echo is transient: the run retries it until its deadline, kept short here.
    runner = kycflow.WizardRunner(client.with_auth(auth), provider, on_event=on_event, deadline=2)
    await runner.run()


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("failing", ["refresh", "start"])
async def test_runner_failed_event_and_log_carry_no_echoed_secret(
    api: Origin, shape: str, failing: str
) -> None:
    # "refresh": the wizard answers 401, the refresh that follows is answered with an echo of
    # the refresh token. "start": the wizard itself echoes the Authorization header.
    if failing == "refresh":
        api.handler = echoing(shape, "/api/v2/my/refresh")
        auth: kycflow.Auth = kycflow.SessionAuth(ACCESS, REFRESH)
    else:
        api.handler = echoing(shape, "/api/v2/my/verifications/wizard")
        auth = kycflow.BearerToken(ACCESS)
    events: list[Any] = []
    async with make_client(api.base_url) as client:
        with structlog.testing.capture_logs() as logs:
            exc = await failure(_run_with(client, auth, events))
    if shape == "html":  # a 500: retried within the run, which ends at its deadline
        assert isinstance(exc, e.WizardDeadlineError), repr(exc)
        assert isinstance(exc.last_error, e.APIStatusError | e.OutcomeUnknownError)
    else:
        assert isinstance(exc, e.APIStatusError | e.OutcomeUnknownError), repr(exc)
    failed = [ev for ev in events if ev.name == "wizard.failed"]
    assert len(failed) == 1
    assert failed[0].message  # the server's message is kept, scrubbed
    assert leaks(repr(failed[0]) + failed[0].message) == []
    assert [x for x in logs if x["event"] == "wizard.failed"]
    assert leaks(repr(logs)) == []
    assert leaks(rendered(exc)) == []


@pytest.mark.parametrize("call", ["start", "submit"])
async def test_an_unreadable_2xx_echo_is_scrubbed(api: Origin, call: str) -> None:
    async def handler(request: web.Request, body: bytes) -> web.StreamResponse:
        echo = f"<html>{request.headers.get('Authorization')} {body.decode()}</html>"
        return web.Response(status=200, text=echo, content_type="application/json")

    api.handler = handler
    async with make_client(api.base_url) as client:
        view = client.with_auth(kycflow.BearerToken(ACCESS))
        run = view.wizard.start() if call == "start" else view.wizard.submit("u-1", 2, ["u/p"])
        exc = await failure(run)
    assert isinstance(exc, e.ProtocolError | e.OutcomeUnknownError), repr(exc)
    assert ACCESS in api.replies[-1].decode()
    assert leaks(rendered(exc)) == []


async def test_a_2xx_echo_of_the_access_token_reaches_no_result_or_error(api: Origin) -> None:
    async def handler(request: web.Request, body: bytes) -> web.StreamResponse:
        auth = request.headers.get("Authorization", "")
        if request.path.endswith("/wizard"):  # does not fit a wizard step: a ProtocolError
            return json_reply({"code": "weird", "data": {"echo": auth}, "uuid": 5})
        return json_reply({"data": {"file": f"u/{auth}"}})  # a stored "path" quoting it

    api.handler = handler
    async with make_client(api.base_url) as client:
        view = client.with_auth(kycflow.BearerToken(ACCESS))
        exc = await failure(view.wizard.start())
        stored = await view.files.upload(kycflow.Document.from_bytes(JPEG, "p.jpg"))
    assert isinstance(exc, e.ProtocolError), repr(exc)
    assert all(ACCESS in reply.decode() for reply in api.replies)
    assert leaks(rendered(exc)) == []
    assert leaks(stored) == []
    assert stored == "u/Bearer [redacted]"


def test_a_short_secret_is_scrubbed_without_garbling_the_marker() -> None:
    from kycflow._http.secrets import REDACTED, _forms, scrub_text

    # "t" occurs in "[redacted]": replacing form by form would scrub the marker itself.
    text = scrub_text("document t is not allowed", _forms(["t", "document"]))
    assert text == f"{REDACTED} {REDACTED} is no{REDACTED} allowed"
    assert text.count(REDACTED) == 3
