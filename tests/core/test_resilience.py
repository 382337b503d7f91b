"""Retries, timeouts, dropped connections, redirects and transport safety on loopback."""

from __future__ import annotations

import asyncio
import socket
import time

import pytest
import structlog
from aiohttp import web
from corekit import FakeServer, drop, envelope, error, make_client, reply

import kycflow
from kycflow import errors as e

WIZARD = "/v2/my/verifications/wizard"
SUBMIT = "/v2/my/verifications"


async def test_get_retried_on_503_then_succeeds(server: FakeServer, client: kycflow.Client) -> None:
    server.route("GET", WIZARD, error(503), error(502), reply(envelope()))
    with structlog.testing.capture_logs() as logs:
        step = await client.wizard.start()
    assert step.uuid == "wiz-1"
    assert len(server.seen) == 3
    retries = [x for x in logs if x["event"] == "http.retry"]
    assert [r["reason"] for r in retries] == ["status 503", "status 502"]
    requests = [x for x in logs if x["event"] == "http.request"]
    assert [r["attempt"] for r in requests] == [1, 2, 3]
    assert requests[0]["path"] == WIZARD
    assert requests[0]["request_id"] == "req-test-1"


async def test_get_retries_exhausted_raises_last_error(
    server: FakeServer, client: kycflow.Client
) -> None:
    server.route("GET", WIZARD, error(500, "first"), error(504, "last"))
    with pytest.raises(e.ServerError) as info:
        await client.wizard.start(max_retries=1)
    assert info.value.status == 504
    assert len(server.seen) == 2


async def test_429_forever_raises_rate_limit(server: FakeServer, client: kycflow.Client) -> None:
    server.route("GET", WIZARD, error(429, "slow down", **{"Retry-After": "0"}))
    with pytest.raises(e.RateLimitError) as info:
        await client.wizard.start(max_retries=2)
    assert info.value.retry_after == 0
    assert len(server.seen) == 3


async def test_retry_after_honoured(server: FakeServer, client: kycflow.Client) -> None:
    # The wait is the behaviour under test, so it is real, but short.
    server.route("GET", WIZARD, error(429, **{"Retry-After": "0.3"}), reply(envelope()))
    started = time.monotonic()
    with structlog.testing.capture_logs() as logs:
        await client.wizard.start()
    assert time.monotonic() - started >= 0.29
    assert [x["delay"] for x in logs if x["event"] == "http.retry"] == [0.3]


@pytest.mark.parametrize("status", [429, 503])
async def test_submit_429_and_503_are_unknown_outcomes_never_resent(
    server: FakeServer, client: kycflow.Client, status: int
) -> None:
    # A gateway or rate limiter in front of a server that did commit says 429/503 too.
    server.route("POST", SUBMIT, error(status, **{"Retry-After": "0"}))
    with pytest.raises(e.OutcomeUnknownError) as info:
        await client.wizard.submit("wiz-1", 2, ["u/a.jpg"])
    assert isinstance(info.value.cause, e.APIStatusError)
    assert info.value.cause.status == status
    assert len(server.seen) == 1


@pytest.mark.parametrize("status", [500, 502, 504])
async def test_post_5xx_outcome_unknown_one_request(
    server: FakeServer, client: kycflow.Client, status: int
) -> None:
    server.route("POST", SUBMIT, error(status))
    with pytest.raises(e.OutcomeUnknownError) as info:
        await client.wizard.submit("wiz-1", 2, ["u/a.jpg"])
    assert isinstance(info.value.cause, e.ServerError)
    assert info.value.cause.status == status
    assert len(server.seen) == 1


async def test_post_4xx_raised_as_status_error(server: FakeServer, client: kycflow.Client) -> None:
    server.route("POST", SUBMIT, error(409, "duplicate"))
    with pytest.raises(e.ConflictError):
        await client.wizard.submit("wiz-1", 2, ["u/a.jpg"])
    assert len(server.seen) == 1


async def test_get_timeout_fires_and_is_retried(server: FakeServer, client: kycflow.Client) -> None:
    server.route("GET", WIZARD, reply(envelope(), delay=1.0))
    started = time.monotonic()
    with pytest.raises(e.APITimeoutError):
        await client.wizard.start(timeout=0.2, max_retries=1)
    assert time.monotonic() - started < 0.9 * 2
    assert len(server.seen) == 2


async def test_post_timeout_is_outcome_unknown(server: FakeServer, client: kycflow.Client) -> None:
    server.route("POST", SUBMIT, reply(envelope(), delay=1.0))
    with pytest.raises(e.OutcomeUnknownError) as info:
        await client.wizard.submit("wiz-1", 2, ["u/a.jpg"], timeout=0.2)
    assert isinstance(info.value.cause, e.APITimeoutError)
    assert len(server.seen) == 1


async def test_deadline_bounds_the_whole_call(server: FakeServer, client: kycflow.Client) -> None:
    server.route("GET", WIZARD, reply(envelope(), delay=1.0))
    started = time.monotonic()
    with pytest.raises(e.APITimeoutError):
        await client.wizard.start(timeout=5.0, max_retries=5, deadline=0.3)
    assert time.monotonic() - started < 0.9


async def test_post_dropped_connection_is_outcome_unknown(
    server: FakeServer, client: kycflow.Client
) -> None:
    server.route("POST", SUBMIT, drop())
    with pytest.raises(e.OutcomeUnknownError) as info:
        await client.wizard.submit("wiz-1", 2, ["u/a.jpg"])
    assert isinstance(info.value.cause, e.APIConnectionError)
    assert len(server.seen) == 1


async def test_get_dropped_connection_is_retried(
    server: FakeServer, client: kycflow.Client
) -> None:
    server.route("GET", WIZARD, drop(), reply(envelope()))
    step = await client.wizard.start()
    assert step.uuid == "wiz-1"
    assert len(server.seen) == 2


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def test_connection_refused_retried_then_raised() -> None:
    base = f"http://127.0.0.1:{_free_port()}/api"
    async with make_client(base) as c:
        with structlog.testing.capture_logs() as logs:
            with pytest.raises(e.APIConnectionError) as info:
                await c.wizard.start(max_retries=2)
            # A POST that never left may be retried too.
            with pytest.raises(e.APIConnectionError):
                await c.wizard.submit("wiz-1", 2, ["u/a.jpg"], max_retries=1)
    assert not isinstance(info.value, e.APITimeoutError)
    assert [x["reason"] for x in logs if x["event"] == "http.retry"] == ["connect"] * 3


async def test_cancellation_is_not_retried(server: FakeServer, client: kycflow.Client) -> None:
    arrived = asyncio.Event()

    async def slow(request: web.Request) -> web.StreamResponse:
        arrived.set()
        await asyncio.sleep(2.0)
        return web.Response()

    server.route("GET", WIZARD, slow)
    task = asyncio.create_task(client.wizard.start())
    await asyncio.wait_for(arrived.wait(), 2.0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await asyncio.sleep(0.1)
    assert len(server.seen) == 1


def redirect(status: int, location: str) -> object:
    async def handler(request: web.Request) -> web.StreamResponse:
        return web.Response(status=status, headers={"Location": location})

    return handler


@pytest.mark.parametrize("status", [301, 302, 307, 308])
async def test_post_redirect_keeps_method_and_body(
    server: FakeServer, client: kycflow.Client, status: int
) -> None:
    server.route("POST", SUBMIT, redirect(status, "/api/v2/my/verifications/"))  # type: ignore[arg-type]
    server.route("POST", SUBMIT + "/", reply(envelope(202, None, done=True)))
    step = await client.wizard.submit("wiz-1", 2, ["u/a.jpg"])
    assert step.is_final
    first, second = server.seen
    assert second.method == "POST"
    assert second.body == first.body
    assert second.json()["data"]["uuid"] == "wiz-1"
    assert second.headers["Authorization"] == first.headers["Authorization"]


async def test_303_becomes_get(server: FakeServer, client: kycflow.Client) -> None:
    server.route("POST", SUBMIT, redirect(303, "/api/v2/my/verifications/wizard"))  # type: ignore[arg-type]
    server.route("GET", WIZARD, reply(envelope()))
    await client.wizard.submit("wiz-1", 2, ["u/a.jpg"])
    assert [s.method for s in server.seen] == ["POST", "GET"]
    assert server.seen[1].body == b""


async def test_cross_origin_redirect_drops_authorization(
    server: FakeServer, server2: FakeServer, client: kycflow.Client
) -> None:
    server.route("GET", WIZARD, redirect(307, server2.base_url + WIZARD))  # type: ignore[arg-type]
    server2.route("GET", WIZARD, reply(envelope(uuid="other")))
    step = await client.wizard.start()
    assert step.uuid == "other"
    assert "Authorization" in server.seen[0].headers
    assert "Authorization" not in server2.seen[0].headers
    assert server2.seen[0].headers["User-Agent"].startswith("kycflow/")


async def test_same_origin_redirect_keeps_authorization(
    server: FakeServer, client: kycflow.Client
) -> None:
    server.route("GET", WIZARD, redirect(302, server.origin + "/api/v2/my/w2"))  # type: ignore[arg-type]
    server.route("GET", "/v2/my/w2", reply(envelope()))
    await client.wizard.start()
    assert server.seen[1].headers["Authorization"] == server.seen[0].headers["Authorization"]


async def test_redirect_loop_is_bounded(server: FakeServer, client: kycflow.Client) -> None:
    server.route("GET", WIZARD, redirect(302, "/api" + WIZARD))  # type: ignore[arg-type]
    with pytest.raises(e.ProtocolError, match="redirects"):
        await client.wizard.start()
    assert len(server.seen) == 6


async def test_redirect_to_remote_http_refused(server: FakeServer, client: kycflow.Client) -> None:
    server.route("GET", WIZARD, redirect(302, "http://example.com/api/x"))  # type: ignore[arg-type]
    with pytest.raises(e.ProtocolError, match="plain http"):
        await client.wizard.start()
    assert len(server.seen) == 1


def test_http_base_url_refused_unless_loopback_or_allowed() -> None:
    with pytest.raises(e.ConfigurationError):
        kycflow.Client("http://api.example.com/api")
    kycflow.Client("http://localhost:1/api")
    kycflow.Client("http://[::1]:1/api")
    kycflow.Client("http://api.example.com/api", allow_insecure_http=True)
    with pytest.raises(e.ConfigurationError):
        kycflow.Client("https://api.example.com/api", ssl=False)
