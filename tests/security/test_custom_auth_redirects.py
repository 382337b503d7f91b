"""A custom ``Auth``'s headers never follow a redirect to another origin, whatever their names
or case; the standard credential headers are matched case-insensitively too.

At the seam (``MockTransport``) and over two real loopback aiohttp.web servers.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

import pytest
from aiohttp import web
from seckit import Origin, json_reply, make_client

import kycflow
from kycflow.testing import MockTransport, reply
from kycflow.transport import AsyncTransport, HTTPRequest, HTTPResponse

BASE = "https://kyc.example.test/api"
EVIL = "https://evil.example.test"
KEY = "key-3f9a0c1d-secret"
STEP = {"code": 200, "uuid": "v-1", "data": None, "done": False}


class HeaderAuth:
    """A custom scheme: whatever headers it is given."""

    def __init__(self, headers: Mapping[str, str]) -> None:
        self._headers = dict(headers)

    async def headers(self, requester: Any) -> Mapping[str, str]:
        return self._headers

    async def on_unauthorized(self, requester: Any, sent: Mapping[str, str]) -> bool:
        return False


def redirect_to(target: str) -> Any:
    def handler(request: HTTPRequest) -> HTTPResponse:
        if "/v2/elsewhere" not in request.url:
            return reply(302, body=b"", headers={"Location": target + "/v2/elsewhere"})
        return reply(200, STEP)

    return handler


@pytest.mark.parametrize(
    "auth_headers",
    [
        {"X-Api-Key": KEY},
        {"authorization": f"Bearer {KEY}"},
        {"AUTHORIZATION": f"Bearer {KEY}", "x-tenant-token": KEY},
    ],
    ids=["custom-name", "lowercase-authorization", "mixed"],
)
async def test_auth_headers_stay_behind_on_a_cross_origin_redirect(
    auth_headers: Mapping[str, str],
) -> None:
    mock = MockTransport(redirect_to(EVIL))
    async with kycflow.Client(BASE, auth=HeaderAuth(auth_headers), transport=mock) as client:
        await client.wizard.start()
    first, second = mock.requests
    assert all(KEY in first.headers[name] for name in auth_headers)
    assert second.url.startswith(EVIL)
    assert not [v for v in second.headers.values() if KEY in v]
    assert not {n.lower() for n in second.headers} & {n.lower() for n in auth_headers}


async def test_lowercase_cookie_from_extra_headers_stays_behind() -> None:
    mock = MockTransport(redirect_to(EVIL))
    async with kycflow.Client(BASE, transport=mock) as client:
        await client.wizard.start(
            extra_headers={"cookie": f"s={KEY}", "proxy-authorization": KEY, "X-Trace": "t-1"}
        )
    second = mock.requests[1]
    assert not [v for v in second.headers.values() if KEY in v]
    assert second.headers["X-Trace"] == "t-1"  # not a credential: it goes on


async def test_auth_headers_go_on_within_the_origin() -> None:
    mock = MockTransport(redirect_to(BASE + "/other"))
    async with kycflow.Client(BASE, auth=HeaderAuth({"X-Api-Key": KEY}), transport=mock) as c:
        await c.wizard.start()
    assert [r.headers.get("X-Api-Key") for r in mock.requests] == [KEY, KEY]


class Keeping(AsyncTransport):
    """Keeps the very ``HTTPRequest`` objects it was handed (no copy), as a recorder might."""

    def __init__(self) -> None:
        self.sent: list[HTTPRequest] = []

    async def send(self, request: HTTPRequest) -> HTTPResponse:
        self.sent.append(request)
        return redirect_to(EVIL)(request)


async def test_a_sent_request_keeps_the_headers_it_was_sent_with() -> None:
    transport = Keeping()
    async with kycflow.Client(
        BASE, auth=HeaderAuth({"Authorization": f"Bearer {KEY}"}), transport=transport
    ) as client:
        await client.wizard.start()
    first, second = transport.sent
    assert first.headers["Authorization"] == f"Bearer {KEY}"  # not edited after being sent
    assert "Authorization" not in second.headers


@pytest.fixture
async def servers() -> AsyncIterator[tuple[Origin, Origin]]:
    api, other = Origin(), Origin()
    await api.start()
    await other.start()
    yield api, other
    await api.close()
    await other.close()


async def test_over_aiohttp_a_custom_auth_header_never_reaches_the_other_origin(
    servers: tuple[Origin, Origin],
) -> None:
    api, other = servers

    async def redirecting(request: web.Request, body: bytes) -> web.StreamResponse:
        return web.Response(status=302, headers={"Location": other.origin + request.path})

    async def answering(request: web.Request, body: bytes) -> web.StreamResponse:
        return json_reply(STEP)

    api.handler, other.handler = redirecting, answering
    auth = HeaderAuth({"X-Api-Key": KEY, "authorization": f"Bearer {KEY}"})
    async with make_client(api.base_url, auth=auth, allow_insecure_http=True) as client:
        await client.wizard.start()
    assert len(api.seen) == 1
    assert len(other.seen) == 1
    assert api.seen[0].headers["X-Api-Key"] == KEY
    assert KEY not in other.received()
