"""No secret in kycflow's frames: a traceback rendered with every frame's locals (as Sentry or
``traceback.TracebackException(capture_locals=True)`` does) shows none.

Failures of sign-in, second factor, refresh, upload and submit against hostile loopback servers:
error replies, dropped connections (mid-body for uploads), cut-short and misfit token replies.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from seckit import (
    ACCESS,
    CODE,
    JPEG,
    NEW_ACCESS,
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

# Over the in-memory inline limit: sent by the sized multipart writer, in chunks.
BIG_JPEG = JPEG + bytes(700 * 1024)


@pytest.fixture
async def api() -> AsyncIterator[Origin]:
    srv = Origin()
    await srv.start()
    yield srv
    await srv.close()


async def _status(request: web.Request, status: int) -> web.StreamResponse:
    return json_reply({"error": {"message": "no"}}, status=status)


async def _drop(request: web.Request) -> web.StreamResponse:
    assert request.transport is not None
    request.transport.close()
    await asyncio.sleep(0.05)
    return web.Response()


FAULTS: dict[str, Callable[[web.Request], Awaitable[web.StreamResponse]]] = {
    "401": lambda r: _status(r, 401),
    "422": lambda r: _status(r, 422),
    "500": lambda r: _status(r, 500),
    "drop": _drop,
    "cut-tokens": lambda r: _raw(
        r, b'{"code":202,"done":true,"data":{"accessToken":"' + b"acc-NEW"
    ),
    "misfit-tokens": lambda r: _json(
        r,
        {
            "code": 202,
            "done": True,
            "data": {"accessToken": {"token": NEW_ACCESS, "x": []}, "refreshToken": 5},
        },
    ),
}


async def _raw(request: web.Request, body: bytes) -> web.StreamResponse:
    return web.Response(body=body, content_type="application/json")


async def _json(request: web.Request, payload: Any) -> web.StreamResponse:
    return json_reply(payload)


def serving(failing: str, fault: str) -> Any:
    async def handler(request: web.Request, body: bytes) -> web.StreamResponse:
        path = request.path
        if path == failing:
            return await FAULTS[fault](request)
        if path.endswith("/signin/wizard"):
            return json_reply({"code": 200, "uuid": "u-1", "data": None})
        if path.endswith("/signin"):
            return json_reply({"code": 200, "uuid": "u-1", "data": {"type": "google"}})
        if path.endswith("/verifications") and failing.endswith("/refresh"):
            return await _status(request, 401)  # so the submit refreshes
        return json_reply({"code": 200, "uuid": "u-1", "data": None})

    return handler


async def _sign_in(client: kycflow.Client) -> None:
    async def code(kind: str) -> str:
        return CODE

    await client.sign_in("a@b.c", PASSWORD, second_factor=code)


async def _refresh(client: kycflow.Client) -> None:
    await kycflow.SessionAuth(ACCESS, REFRESH).refresh(client)


async def _upload(client: kycflow.Client) -> None:
    await client.with_auth(kycflow.BearerToken(ACCESS)).files.upload(JPEG, name="p.jpg")


async def _upload_big(client: kycflow.Client) -> None:
    await client.with_auth(kycflow.BearerToken(ACCESS)).files.upload(BIG_JPEG, name="p.jpg")


async def _submit(client: kycflow.Client) -> None:
    await client.with_auth(kycflow.SessionAuth(ACCESS, REFRESH)).wizard.submit(
        "u-1", 2, ["u/p.jpg"]
    )


CASES: list[tuple[str, str, Callable[[kycflow.Client], Awaitable[None]], str]] = [
    ("sign-in", "/api/v2/my/signin", _sign_in, "401"),
    ("sign-in", "/api/v2/my/signin", _sign_in, "500"),
    ("sign-in", "/api/v2/my/signin", _sign_in, "drop"),
    ("2fa", "/api/v2/my/2fa/google", _sign_in, "401"),
    ("2fa", "/api/v2/my/2fa/google", _sign_in, "drop"),
    ("2fa", "/api/v2/my/2fa/google", _sign_in, "cut-tokens"),
    ("2fa", "/api/v2/my/2fa/google", _sign_in, "misfit-tokens"),
    ("refresh", "/api/v2/my/refresh", _refresh, "422"),
    ("refresh", "/api/v2/my/refresh", _refresh, "drop"),
    ("refresh", "/api/v2/my/refresh", _refresh, "cut-tokens"),
    ("refresh", "/api/v2/my/refresh", _refresh, "misfit-tokens"),
    ("upload", "/api/v2/my/files", _upload, "500"),
    ("upload", "/api/v2/my/files", _upload, "drop"),
    ("upload-big", "/api/v2/my/files", _upload_big, "500"),
    ("upload-big", "/api/v2/my/files", _upload_big, "drop"),
    ("submit", "/api/v2/my/verifications", _submit, "500"),
    ("submit", "/api/v2/my/verifications", _submit, "drop"),
    ("submit-refresh", "/api/v2/my/refresh", _submit, "422"),
]


@pytest.mark.parametrize(
    ("failing", "run", "fault"),
    [pytest.param(p, r, f, id=f"{name}-{f}") for name, p, r, f in CASES],
)
async def test_no_secret_in_a_traceback_rendered_with_locals(
    api: Origin, failing: str, run: Callable[[kycflow.Client], Awaitable[None]], fault: str
) -> None:
    api.handler = serving(failing, fault)
    async with make_client(api.base_url) as client:
        exc = await failure(run(client))
    assert isinstance(exc, kycflow.KycflowError), repr(exc)
    assert [s.path for s in api.seen][-1] == failing
    text = rendered(exc)
    assert "kycflow" in text  # kycflow's own frames were rendered, with their locals
    assert leaks(text) == []


async def test_directory_provider_upload_failure_renders_no_document_bytes(
    api: Origin, tmp_path: Path
) -> None:
    (tmp_path / "passport.jpg").write_bytes(BIG_JPEG)
    api.handler = serving("/api/v2/my/files", "drop")
    provider = kycflow.DirectoryProvider(tmp_path)
    docs = await provider.documents_for(kycflow.DocumentType(id=2, description="Passport"))
    assert docs
    async with make_client(api.base_url) as client:
        exc = await failure(client.with_auth(kycflow.BearerToken(ACCESS)).files.upload(docs[0]))
    assert isinstance(exc, kycflow.KycflowError)
    assert leaks(rendered(exc)) == []
