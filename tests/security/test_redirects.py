"""A request whose body carries credentials or documents never follows a cross-origin redirect.

Two real aiohttp.web servers on two loopback ports: the API origin redirects each sensitive call
to the other one, which must receive nothing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web
from seckit import (
    ACCESS,
    CODE,
    DOC_MARKER,
    JPEG,
    PASSWORD,
    REFRESH,
    Origin,
    failure,
    json_reply,
    leaks,
    make_client,
    rendered,
    tokens_reply,
)

import kycflow
from kycflow import errors as e


@pytest.fixture
async def api() -> AsyncIterator[Origin]:
    srv = Origin()
    await srv.start()
    yield srv
    await srv.close()


@pytest.fixture
async def other() -> AsyncIterator[Origin]:
    srv = Origin()
    await srv.start()
    yield srv
    await srv.close()


def redirecting(target: Origin, redirected: str, status: int) -> Any:
    """A handler that answers the auth flow and redirects ``redirected`` to ``target``."""

    async def handler(request: web.Request, body: bytes) -> web.StreamResponse:
        path = request.path
        if path == redirected:
            return web.Response(status=status, headers={"Location": target.origin + path})
        if path.endswith("/signin/wizard"):
            return json_reply({"code": 200, "uuid": "u-1", "data": None})
        if path.endswith("/signin"):
            return json_reply({"code": 200, "uuid": "u-1", "data": {"type": "google"}})
        return json_reply(tokens_reply())

    return handler


async def _sign_in(client: kycflow.Client) -> None:
    async def code(kind: str) -> str:
        return CODE

    await client.sign_in("a@b.c", PASSWORD, second_factor=code)


async def _refresh(client: kycflow.Client) -> None:
    auth = kycflow.SessionAuth(ACCESS, REFRESH)
    await auth.refresh(client)


async def _upload(client: kycflow.Client) -> None:
    await client.with_auth(kycflow.BearerToken(ACCESS)).files.upload(JPEG, name="p.jpg")


async def _submit(client: kycflow.Client) -> None:
    await client.with_auth(kycflow.BearerToken(ACCESS)).wizard.submit("u-1", 2, ["u/p.jpg"])


CALLS: dict[str, tuple[str, Callable[[kycflow.Client], Awaitable[None]]]] = {
    "sign-in": ("/api/v2/my/signin", _sign_in),
    "2fa": ("/api/v2/my/2fa/google", _sign_in),
    "refresh": ("/api/v2/my/refresh", _refresh),
    "upload": ("/api/v2/my/files", _upload),
    "submit": ("/api/v2/my/verifications", _submit),
}


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
@pytest.mark.parametrize("call", list(CALLS))
async def test_sensitive_body_is_never_sent_to_another_origin(
    api: Origin, other: Origin, call: str, status: int
) -> None:
    path, run = CALLS[call]
    api.handler = redirecting(other, path, status)
    other.handler = redirecting(other, "-", 200)
    async with make_client(api.base_url) as client:
        exc = await failure(run(client))
    assert isinstance(exc, e.RedirectRefusedError), exc
    assert isinstance(exc, e.ProtocolError)
    assert isinstance(exc, kycflow.KycflowError)
    assert exc.origin == api.origin
    assert exc.target_origin == other.origin
    assert api.origin in str(exc)
    assert other.origin in str(exc)
    assert exc.method == "POST"
    assert exc.status == status
    assert other.seen == []  # not one request, so not one secret, reached the other origin
    assert leaks(rendered(exc)) == []
    # The API origin did get the request (the test is not vacuous).
    assert [s.path for s in api.seen][-1] == path
    sent = {"sign-in": PASSWORD, "2fa": CODE, "refresh": REFRESH, "upload": DOC_MARKER}
    if call in sent:
        assert leaks(api.received(), [sent[call]]) != []


async def test_same_origin_trailing_slash_redirect_keeps_working(api: Origin) -> None:
    async def handler(request: web.Request, body: bytes) -> web.StreamResponse:
        if request.path == "/api/v2/my/verifications":
            return web.Response(status=308, headers={"Location": "/api/v2/my/verifications/"})
        return json_reply({"code": 202, "done": True, "uuid": "u-1", "data": None})

    api.handler = handler
    async with make_client(api.base_url) as client:
        step = await client.with_auth(kycflow.BearerToken(ACCESS)).wizard.submit(
            "u-1", 2, ["u/p.jpg"]
        )
    assert step.is_final
    first, second = api.seen
    assert second.path == "/api/v2/my/verifications/"
    assert second.body == first.body
    assert second.method == "POST"
    assert second.headers["Authorization"] == f"Bearer {ACCESS}"


async def test_same_origin_redirect_of_an_upload_keeps_working(api: Origin) -> None:
    async def handler(request: web.Request, body: bytes) -> web.StreamResponse:
        if request.path == "/api/v2/my/files":
            return web.Response(status=307, headers={"Location": "/api/v2/my/files/"})
        return json_reply({"data": {"file": "u/p.jpg"}})

    api.handler = handler
    async with make_client(api.base_url) as client:
        stored = await client.with_auth(kycflow.BearerToken(ACCESS)).files.upload(
            JPEG, name="p.jpg"
        )
    assert stored == "u/p.jpg"
    assert [s.path for s in api.seen] == ["/api/v2/my/files", "/api/v2/my/files/"]
    assert DOC_MARKER in api.seen[1].body


async def test_cross_origin_get_is_followed_without_credentials(api: Origin, other: Origin) -> None:
    # A GET carries no body: it may follow, and only its Authorization header is dropped.
    async def handler(request: web.Request, body: bytes) -> web.StreamResponse:
        return web.Response(status=302, headers={"Location": other.origin + request.path})

    async def answer(request: web.Request, body: bytes) -> web.StreamResponse:
        return json_reply({"code": 200, "uuid": "u-2", "data": None})

    api.handler, other.handler = handler, answer
    async with make_client(api.base_url) as client:
        step = await client.with_auth(kycflow.BearerToken(ACCESS)).wizard.start()
    assert step.uuid == "u-2"
    assert "Authorization" not in other.seen[0].headers
    assert leaks(other.received()) == []


@pytest.mark.parametrize("location", ["ftp://127.0.0.1/x", "file:///etc/passwd", "data:,x"])
async def test_redirect_to_a_non_http_url_is_refused(api: Origin, location: str) -> None:
    async def handler(request: web.Request, body: bytes) -> web.StreamResponse:
        return web.Response(status=302, headers={"Location": location})

    api.handler = handler
    async with make_client(api.base_url) as client:
        exc = await failure(client.with_auth(kycflow.BearerToken(ACCESS)).wizard.start())
    assert isinstance(exc, e.ProtocolError)
    assert "non-http(s)" in str(exc)
    assert len(api.seen) == 1
