"""The seam's contract with a custom transport: what the call path makes of its replies (plain
dict headers, no URL, a body over ``max_body``) and its failures (only kycflow errors escape),
the deadline across redirect hops, and the public face of ``kycflow.transport``."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from aiohttp import web

import kycflow
import kycflow.transport
from kycflow.errors import (
    APIConnectionError,
    ConfigurationError,
    OutcomeUnknownError,
    ProtocolError,
    RateLimitError,
    ServerError,
)
from kycflow.resources._raw import _RawGroup
from kycflow.testing import MockTransport, reply
from kycflow.transport import AiohttpTransport, AsyncTransport, HTTPRequest, HTTPResponse

BASE = "https://kyc.example.test/api"
STEP = {"code": 200, "uuid": "v-1", "data": None, "done": False}
STEP_BODY = b'{"code": 200, "uuid": "v-1", "data": null, "done": false}'


async def no_sleep(_: float) -> None:
    return None


class Plain(AsyncTransport):
    """A custom transport as a user writes one over another library: plain dicts, no URL."""

    def __init__(self, handler: Callable[[HTTPRequest], HTTPResponse]) -> None:
        self.handler = handler
        self.sent: list[HTTPRequest] = []

    async def send(self, request: HTTPRequest) -> HTTPResponse:
        self.sent.append(request)
        return self.handler(request)


def client_over(transport: AsyncTransport, **kwargs: Any) -> kycflow.Client:
    client = kycflow.Client(BASE, transport=transport, **kwargs)
    client.transport._sleep = no_sleep
    return client


# 2: headers of a custom transport's reply, whatever their case


async def test_a_lowercase_location_in_a_plain_dict_is_followed() -> None:
    def handler(request: HTTPRequest) -> HTTPResponse:
        if request.url.endswith("/moved"):
            return HTTPResponse(200, {"content-type": "application/json"}, STEP_BODY)
        return HTTPResponse(307, {"location": BASE + "/moved"}, b"")

    transport = Plain(handler)
    async with client_over(transport) as client:
        assert (await client.wizard.start()).uuid == "v-1"
    assert [r.url for r in transport.sent][-1] == BASE + "/moved"


async def test_a_lowercase_retry_after_in_a_plain_dict_is_read() -> None:
    transport = Plain(lambda r: HTTPResponse(429, {"retry-after": "7"}, b'{"error": "slow"}'))
    async with client_over(transport, max_retries=0) as client:
        with pytest.raises(RateLimitError) as caught:
            await client.wizard.start()
    assert caught.value.retry_after == 7


async def test_a_lowercase_content_type_in_a_plain_dict_is_read() -> None:
    page = b"Oops <title>Gateway down</title>"
    transport = Plain(lambda r: HTTPResponse(502, {"content-type": "text/html"}, page))
    async with client_over(transport, max_retries=0) as client:
        with pytest.raises(ServerError) as caught:
            await client.wizard.start()
    assert caught.value.message == "Gateway down"


def test_reply_headers_are_case_insensitive_whatever_was_passed() -> None:
    response = HTTPResponse(200, {"x-request-id": "r-1"}, b"")
    assert response.headers["X-Request-Id"] == "r-1"


# 3b: whatever a transport raises, only kycflow errors escape


async def test_an_unmapped_exception_in_a_read_is_a_connection_error_and_retried() -> None:
    calls: list[int] = []

    def handler(request: HTTPRequest) -> HTTPResponse:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("transport bug quoting key-42")
        return reply(200, STEP)

    async with client_over(MockTransport(handler), max_retries=1) as client:
        assert (await client.wizard.start()).uuid == "v-1"
    assert len(calls) == 2


async def test_an_unmapped_exception_in_a_submit_is_an_unknown_outcome() -> None:
    def handler(request: HTTPRequest) -> HTTPResponse:
        raise RuntimeError("transport bug quoting key-42")

    mock = MockTransport(handler)
    async with client_over(mock, max_retries=3) as client:
        with pytest.raises(OutcomeUnknownError) as caught:
            await client.wizard.submit("v-1", 2, ["u/a.jpg"])
    assert len(mock.requests) == 1  # never re-sent: exactly once
    cause = caught.value.cause
    assert isinstance(cause, APIConnectionError)
    assert str(cause.message) == "the transport failed (RuntimeError)"
    assert "key-42" not in str(caught.value)


async def test_an_unmapped_exception_with_no_retries_left_is_a_connection_error() -> None:
    async with client_over(MockTransport(lambda r: {}["x"]), max_retries=0) as client:
        with pytest.raises(APIConnectionError, match=r"the transport failed \(KeyError\)"):
            await client.wizard.start()


# 3a: headers aiohttp refuses, before anything is sent


@pytest.fixture
async def loopback() -> AsyncIterator[tuple[str, list[str]]]:
    seen: list[str] = []

    async def handle(request: web.Request) -> web.Response:
        seen.append(request.path)
        return web.json_response(STEP)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    yield f"http://127.0.0.1:{port}/api", seen
    await runner.cleanup()


@pytest.mark.parametrize("value", ["a\r\nb", 5, "a\nX-Injected: 1"])
async def test_a_bad_extra_header_is_a_configuration_error(
    loopback: tuple[str, list[str]], value: Any
) -> None:
    url, seen = loopback
    async with kycflow.Client(url, allow_insecure_http=True, timeout=5) as client:
        with pytest.raises(ConfigurationError, match="X-A"):
            await client.wizard.start(extra_headers={"X-A": value})
        assert (await client.wizard.start()).uuid == "v-1"  # the client still works
    assert len(seen) == 1


class BadAuth:
    async def headers(self, requester: Any) -> dict[str, Any]:
        return {"X-Api-Key": "tok-secret\r\nX-Injected: 1"}

    async def on_unauthorized(self, requester: Any, sent: Any) -> bool:
        return False


async def test_a_header_aiohttp_refuses_is_a_configuration_error_without_its_value(
    loopback: tuple[str, list[str]],
) -> None:
    url, seen = loopback
    async with kycflow.Client(url, auth=BadAuth(), allow_insecure_http=True, timeout=5) as c:
        with pytest.raises(ConfigurationError) as caught:
            await c.wizard.start()
    assert "tok-secret" not in str(caught.value)
    assert seen == []


@pytest.mark.parametrize("headers", [{"X-A": "a\r\nb"}, {"X-A": 5}])
async def test_aiohttp_transport_maps_a_refused_header(
    loopback: tuple[str, list[str]], headers: Any
) -> None:
    url, seen = loopback
    transport = AiohttpTransport()
    try:
        with pytest.raises(ConfigurationError):
            await transport.send(HTTPRequest("GET", url + "/x", headers))
    finally:
        await transport.aclose()
    assert seen == []


# 5: deadline across hops, the reply's URL, a body over max_body, the raw reply


async def test_each_redirect_hop_gets_only_the_time_left_of_the_deadline() -> None:
    totals: list[float] = []

    async def handler(request: HTTPRequest) -> HTTPResponse:
        assert request.timeout is not None
        assert request.timeout.total is not None
        totals.append(request.timeout.total)
        if len(totals) < 3:
            await asyncio.sleep(0.3)
            return reply(307, headers={"Location": f"{BASE}/hop{len(totals)}"})
        return reply(200, STEP)

    async with client_over(MockTransport(handler), deadline=5.0, timeout=30) as client:
        await client.wizard.start()
    first, second, third = totals
    assert first <= 5.0
    assert second <= first - 0.25
    assert third <= second - 0.25


class ReplayingAuth:
    async def headers(self, requester: Any) -> dict[str, str]:
        return {"Authorization": "Bearer tok"}

    async def on_unauthorized(self, requester: Any, sent: Any) -> bool:
        return True


async def test_a_401_replay_gets_only_the_time_left_of_the_deadline() -> None:
    totals: list[float] = []

    async def handler(request: HTTPRequest) -> HTTPResponse:
        assert request.timeout is not None
        assert request.timeout.total is not None
        totals.append(request.timeout.total)
        if len(totals) == 1:
            await asyncio.sleep(0.3)
            return reply(401, {"error": "expired"})
        return reply(200, STEP)

    mock = MockTransport(handler)
    async with client_over(mock, auth=ReplayingAuth(), deadline=5.0, timeout=30) as client:
        await client.wizard.start()
    first, second = totals
    assert second <= first - 0.25


async def test_a_redirect_chain_past_the_deadline_ends_in_a_timeout() -> None:
    async def handler(request: HTTPRequest) -> HTTPResponse:
        await asyncio.sleep(0.15)
        return reply(307, headers={"Location": BASE + "/again"})

    async with client_over(MockTransport(handler), deadline=0.2, max_retries=0) as client:
        with pytest.raises(kycflow.errors.APITimeoutError, match="deadline"):
            await client.wizard.start()


async def test_a_reply_without_url_gets_the_requests() -> None:
    transport = Plain(lambda r: HTTPResponse(200, {"X-Request-Id": "r-9"}, STEP_BODY))
    async with client_over(transport) as client:
        raw = await client.with_raw_response.wizard.start()
    assert raw.url == BASE + "/v2/my/verifications/wizard"
    assert repr(raw) == (
        f"RawResponse(status_code=200, url='{BASE}/v2/my/verifications/wizard', request_id='r-9')"
    )


async def test_a_body_over_max_body_from_a_custom_transport_is_a_protocol_error() -> None:
    big = b'{"code": 200, "pad": "' + b"x" * 5000 + b'"}'
    transport = Plain(lambda r: HTTPResponse(200, {}, big))
    async with client_over(transport, max_response_bytes=1000, max_retries=0) as client:
        with pytest.raises(ProtocolError, match="max_response_bytes=1000"):
            await client.wizard.start()


def test_raw_response_repr_shows_no_header_or_body() -> None:
    from kycflow._http.context import Response
    from kycflow.resources._raw import RawResponse

    http = Response(200, {"Set-Cookie": "s=tok-secret"}, b"tok-secret", "r-1", BASE + "/x")
    text = repr(RawResponse(http, "tok-secret"))
    assert "tok-secret" not in text
    assert "r-1" in text
    assert "200" in text


async def test_a_raw_call_that_made_no_request_is_a_protocol_error() -> None:
    class Group:
        async def nothing(self) -> int:
            return 1

    with pytest.raises(ProtocolError, match="nothing"):
        await _RawGroup(Group()).nothing()


# 6: the public face


def test_body_factory_is_not_public() -> None:
    assert "BodyFactory" not in kycflow.transport.__all__
    assert not hasattr(kycflow.transport, "BodyFactory")


# 4: the seam's own timeouts, converted to aiohttp's inside AiohttpTransport only


async def test_a_request_carries_kycflow_timeouts_with_the_connect_bound() -> None:
    from kycflow._constants import DEFAULT_CONNECT_TIMEOUT

    seen: list[Any] = []

    def handler(request: HTTPRequest) -> HTTPResponse:
        seen.append(request.timeout)
        return reply(200, STEP)

    async with client_over(MockTransport(handler), timeout=12) as client:
        await client.wizard.start()
    assert seen == [
        kycflow.transport.Timeouts(
            total=12.0,
            connect=min(12.0, DEFAULT_CONNECT_TIMEOUT),
            read=None,  # no shorter than the total, which ends the request first
        )
    ]


def test_timeouts_round_trip_to_aiohttp_unchanged() -> None:
    from kycflow._http.timeouts import client_timeout, make_timeout, seam_timeouts

    for value in (None, 3, 60.0):
        limits = make_timeout(value)
        assert client_timeout(seam_timeouts(limits)) == limits


def test_the_seam_module_imports_no_aiohttp() -> None:
    import ast
    import inspect

    import kycflow._http.seam as seam

    tree = ast.parse(inspect.getsource(seam))
    imported = {
        alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    } | {
        (node.module or "").split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
    }
    assert "aiohttp" not in imported
