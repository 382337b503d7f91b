"""No retry storms, over loopback HTTP: the client-wide retry budget bounds retries during an
outage and refills once the server is back; a Retry-After pauses every call to the host once."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import pytest
from aiohttp import web
from polling import eventually

from kycflow._http.coordination import LocalCoordinator
from kycflow._http.flow_control import RetryBudget
from kycflow._http.retry import RetryPolicy
from kycflow._http.transport import CallOptions, Transport, make_timeout
from kycflow.errors import RateLimitError, ServerError


@dataclass
class Server:
    url: str
    status: int = 503
    headers: dict[str, str] = field(default_factory=dict)
    arrivals: list[tuple[float, int]] = field(default_factory=list)
    replied: asyncio.Event = field(default_factory=asyncio.Event)
    answer: Callable[[int], tuple[int, dict[str, str]]] | None = None


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    state = Server(url="")

    async def handle(request: web.Request) -> web.Response:
        n = len(state.arrivals)
        status, headers = state.answer(n) if state.answer else (state.status, state.headers)
        state.arrivals.append((time.monotonic(), status))
        state.replied.set()
        return web.json_response({"ok": True}, status=status, headers=headers)

    app = web.Application()
    app.router.add_get("/thing", handle)
    app.router.add_post("/signin", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    state.url = f"http://127.0.0.1:{port}"
    try:
        yield state
    finally:
        await runner.cleanup()


def _options(retries: int) -> CallOptions:
    return CallOptions(make_timeout(5.0), retries, 10.0)


async def _calls(transport: Transport, n: int, retries: int) -> list[object]:
    return await asyncio.gather(
        *(transport.send("GET", "/thing", options=_options(retries)) for _ in range(n)),
        return_exceptions=True,
    )


async def test_an_outage_draws_the_budget_down_then_only_first_attempts_are_sent(
    server: Server,
) -> None:
    budget = RetryBudget(capacity=50, retry_cost=5)
    transport = Transport(
        server.url, allow_insecure_http=True, initial_backoff=0.001, max_backoff=0.002,
        retry_budget=budget,
    )  # fmt: skip
    try:
        outcomes = await _calls(transport, 200, retries=5)
        assert all(isinstance(o, ServerError) for o in outcomes)
        # 200 first attempts; the budget paid for 10 retries and refused the rest.
        assert len(server.arrivals) == 200 + 10
        assert (budget.first_attempts, budget.retries) == (200, 10)
        assert budget.denied > 0
        # The server is back: every call succeeds at once, and successes refill the budget.
        server.status = 200
        outcomes = await _calls(transport, 30, retries=5)
        assert all(getattr(o, "status", None) == 200 for o in outcomes)
        assert budget.tokens == 30
    finally:
        await transport.aclose()


async def test_without_a_budget_the_same_outage_multiplies_the_load(server: Server) -> None:
    transport = Transport(
        server.url, allow_insecure_http=True, initial_backoff=0.001, max_backoff=0.002,
        retry_budget=RetryBudget(capacity=None),
    )  # fmt: skip
    try:
        await _calls(transport, 200, retries=5)
    finally:
        await transport.aclose()
    assert len(server.arrivals) == 200 * 6  # the storm the budget prevents


async def test_a_retry_after_pauses_every_call_to_the_host_once(server: Server) -> None:
    server.answer = lambda n: (429, {"Retry-After": "1"}) if n == 0 else (200, {})
    transport = Transport(server.url, allow_insecure_http=True, max_retry_after=0.3)
    try:
        first = asyncio.create_task(transport.send("GET", "/thing", options=_options(2)))
        await server.replied.wait()
        host, coordinator = server.url.removeprefix("http://"), transport.coordinator
        assert isinstance(coordinator, LocalCoordinator)
        # The 429 reached the server's side first: the host is paused once it reached the client.
        await eventually(lambda: coordinator.remaining_pause(host) > 0, "the pause", 5, 0.005)
        others = await _calls(transport, 10, retries=2)
        assert (await first).status == 200
    finally:
        await transport.aclose()
    assert all(getattr(o, "status", None) == 200 for o in others)
    limited_at = server.arrivals[0][0]
    assert [status for _, status in server.arrivals].count(429) == 1
    assert len(server.arrivals) == 12  # nobody else learnt the limit by hitting it
    assert all(at >= limited_at + 0.25 for at, _ in server.arrivals[1:])


async def test_a_pause_longer_than_the_calls_deadline_fails_at_once_without_sending(
    server: Server,
) -> None:
    server.answer = lambda n: (429, {"Retry-After": "30"})
    transport = Transport(server.url, allow_insecure_http=True, max_retry_after=30)
    try:
        with pytest.raises(RateLimitError):
            await transport.send("GET", "/thing", options=_options(0))
        started = time.monotonic()
        with pytest.raises(Exception, match="paused"):
            await transport.send("GET", "/thing", options=CallOptions(make_timeout(5), 2, 1.0))
        assert time.monotonic() - started < 0.5
    finally:
        await transport.aclose()
    assert len(server.arrivals) == 1


async def test_a_throttled_sign_in_pauses_nobody_else(server: Server) -> None:
    # The vendor throttles sign-in per account: one user's lockout must not stall the others.
    server.answer = lambda n: (429, {"Retry-After": "30"}) if n == 0 else (200, {})
    transport = Transport(server.url, allow_insecure_http=True, max_retry_after=30)
    try:
        with pytest.raises(RateLimitError):
            await transport.send(
                "POST", "/signin", options=_options(2), json={}, policy=RetryPolicy.CONNECT_ONLY
            )
        started = time.monotonic()
        assert (await transport.send("GET", "/thing", options=_options(0))).status == 200
        assert time.monotonic() - started < 1.0
    finally:
        await transport.aclose()
