"""A user's unit tests written with ``kycflow.testing.MockTransport``: canned replies at the
sending seam, with retries, auth, redirects, uploads and decoding running for real above it."""

from __future__ import annotations

from typing import Any

import pytest

import kycflow
from kycflow.errors import APIConnectError, AuthenticationError, OutcomeUnknownError
from kycflow.testing import MockTransport, reply
from kycflow.transport import AsyncTransport, HTTPRequest, HTTPResponse

BASE = "https://kyc.example.test/api"
WIZARD = {"code": 200, "data": None, "done": False, "uuid": "v-1", "workflow": "B2B\\W\\Step"}


async def no_sleep(_: float) -> None:
    return None


def client_over(transport: AsyncTransport, **kwargs: Any) -> kycflow.Client:
    client = kycflow.Client(
        BASE, auth=kycflow.BearerToken("tok"), transport=transport, max_retries=2, **kwargs
    )
    client.transport._sleep = no_sleep  # no real backoff in unit tests
    return client


async def test_a_canned_reply_becomes_the_wizard_step() -> None:
    mock = MockTransport(lambda request: reply(200, WIZARD, headers={"X-Request-Id": "r-7"}))
    async with client_over(mock) as client:
        step = await client.wizard.start()
        raw = await client.with_raw_response.wizard.start()
    assert step.uuid == "v-1"
    assert raw.request_id == "r-7"
    assert raw.status_code == 200
    assert raw.headers["x-request-id"] == "r-7"  # case-insensitive
    assert raw.parse().uuid == "v-1"
    sent = mock.requests[0]
    assert (sent.method, sent.url) == ("GET", BASE + "/v2/my/verifications/wizard")
    assert sent.headers["Authorization"] == "Bearer tok"
    assert sent.headers["User-Agent"].startswith("kycflow/")


async def test_an_async_handler_and_retries_above_the_seam() -> None:
    answers = [reply(503, {"error": "busy"}), reply(200, WIZARD)]

    async def handler(request: HTTPRequest) -> HTTPResponse:
        return answers.pop(0)

    mock = MockTransport(handler)
    async with client_over(mock) as client:
        assert (await client.wizard.start()).uuid == "v-1"
    assert len(mock.requests) == 2


async def test_a_network_failure_is_retried_when_nothing_was_sent() -> None:
    calls: list[str] = []

    def handler(request: HTTPRequest) -> HTTPResponse:
        calls.append(request.method)
        if len(calls) == 1:
            raise APIConnectError("refused")
        return reply(200, WIZARD)

    async with client_over(MockTransport(handler)) as client:
        await client.wizard.submit("v-1", 2, ["u/a.jpg"])  # a POST: retried, never sent before
    assert calls == ["POST", "POST"]


async def test_a_submit_that_timed_out_is_an_unknown_outcome() -> None:
    def handler(request: HTTPRequest) -> HTTPResponse:
        raise kycflow.errors.APITimeoutError("read timed out")

    mock = MockTransport(handler)
    async with client_over(mock) as client:
        with pytest.raises(OutcomeUnknownError):
            await client.wizard.submit("v-1", 2, ["u/a.jpg"])
    assert len(mock.requests) == 1  # NO_RESEND above the seam


async def test_a_redirect_to_another_origin_loses_the_credentials() -> None:
    def handler(request: HTTPRequest) -> HTTPResponse:
        if request.url.startswith(BASE):
            return reply(302, headers={"Location": "https://cdn.example.test/page"})
        return reply(200, WIZARD)

    mock = MockTransport(handler)
    async with client_over(mock) as client:
        await client.wizard.start()
    assert [r.url for r in mock.requests][1] == "https://cdn.example.test/page"
    assert "Authorization" in mock.requests[0].headers
    assert "Authorization" not in mock.requests[1].headers


async def test_a_401_is_an_authentication_error_with_the_request_id() -> None:
    mock = MockTransport(lambda r: reply(401, {"message": "expired"}, headers={"Request-Id": "x"}))
    async with client_over(mock) as client:
        with pytest.raises(AuthenticationError) as info:
            await client.documents.list()
    assert info.value.request_id == "x"


async def test_an_upload_reaches_the_seam_as_a_sized_multipart_body() -> None:
    jpeg = b"\xff\xd8\xff\xe0" + b"\x00" * 100

    def handler(request: HTTPRequest) -> HTTPResponse:
        return reply(201, {"data": {"file": "u/1.jpg"}})

    mock = MockTransport(handler)
    async with client_over(mock) as client:
        assert await client.files.upload(jpeg, name="a.jpg") == "u/1.jpg"
        raw = await client.with_raw_response.files.upload(jpeg, name="b.jpg")
    assert raw.parse() == "u/1.jpg"
    assert raw.status_code == 201
    sent = mock.requests[0]
    assert sent.headers["Content-Type"].startswith("multipart/form-data; boundary=")
    assert jpeg in sent.body
    assert b'filename="a.jpg"' in sent.body


async def test_the_client_does_not_close_a_callers_transport() -> None:
    mock = MockTransport(lambda r: reply(200, WIZARD))
    async with client_over(mock):
        pass
    assert not mock.closed


def test_raw_responses_refuse_what_makes_many_requests() -> None:
    client = client_over(MockTransport(lambda r: reply(200, WIZARD)))
    with pytest.raises(AttributeError, match="many requests"):
        _ = client.with_raw_response.documents.iterate


async def test_retries_pause_as_the_server_asks_then_back_off() -> None:
    """The first failure's pause (its Retry-After) is taken before the second attempt, the
    backoff after that; the attempts stop at max_retries + 1."""
    from kycflow.transport import CallOptions, Transport, make_timeout

    sleeps: list[float] = []

    async def sleep(delay: float) -> None:
        sleeps.append(delay)

    mock = MockTransport(lambda r: reply(503, {"error": "busy"}, headers={"Retry-After": "2"}))
    transport = Transport(BASE, transport=mock, sleep=sleep, initial_backoff=0.5, max_backoff=8)
    with pytest.raises(kycflow.errors.ServerError):
        await transport.send("GET", "/thing", options=CallOptions(make_timeout(5), 2, None))
    assert len(mock.requests) == 3
    assert sleeps == [2.0, 2.0]  # every 503 said 2 s: the policy's wait for each
    sleeps.clear()
    mock = MockTransport(lambda r: reply(500, {"error": "boom"}))
    transport = Transport(BASE, transport=mock, sleep=sleep, initial_backoff=0.5, max_backoff=8)
    with pytest.raises(kycflow.errors.ServerError):
        await transport.send("GET", "/thing", options=CallOptions(make_timeout(5), 2, None))
    assert len(sleeps) == 2
    assert 0.25 <= sleeps[0] <= 0.5  # backoff(1): equal jitter of 0.5 s
    assert 0.5 <= sleeps[1] <= 1.0  # backoff(2)


async def test_the_base_url_is_read_only_so_requests_cannot_go_elsewhere_mid_life() -> None:
    # The host that paces requests and the URLs already built come from it: changing it on a
    # live client would send some requests to the old origin and some to the new.
    mock = MockTransport(lambda request: reply(200, WIZARD))
    async with client_over(mock) as client:
        await client.wizard.start()
        transport: Any = client.transport  # typed as what a careless caller holds
        with pytest.raises(AttributeError):
            transport.base_url = "https://elsewhere.example.test/api"
        await client.wizard.start()
    assert client.transport.base_url == BASE
    assert [r.url for r in mock.requests] == [BASE + "/v2/my/verifications/wizard"] * 2
