"""Requests beyond the connection pool wait in kycflow's queue, before aiohttp builds anything
for them: aiohttp never queues one (its ``on_connection_queued_start`` signal stays silent), the
pool's limit still holds at the server, a wait that outlasts the call's timeout is a connect
timeout (nothing was sent, so a POST may be made again), the time waited counts against the
request's total, and a run cancelled while it waits takes no place from the others."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from polling import eventually

import kycflow
import kycflow.transport
from kycflow.errors import APITimeoutError, OutcomeUnknownError

pytestmark = pytest.mark.timeout(30)

STEP = {"code": 200, "uuid": "v-1", "data": None, "done": False}


class SlowServer:
    """``GET``/``POST`` on the wizard, each answered after ``delays[n]`` seconds (the last
    repeats); counts requests and the most in flight at once."""

    def __init__(self, *delays: float) -> None:
        self.delays = list(delays) or [0.0]
        self.requests = 0
        self.in_flight = 0
        self.most_in_flight = 0
        self._arrivals: list[tuple[int, asyncio.Event]] = []
        self.gate: asyncio.Event | None = None  # when set: the first request waits for it

    async def reached(self, count: int) -> None:
        """Return once ``count`` requests have arrived."""
        if self.requests < count:
            arrived = asyncio.Event()
            self._arrivals.append((count, arrived))
            await arrived.wait()

    async def handle(self, request: web.Request) -> web.Response:
        delay = self.delays[min(self.requests, len(self.delays) - 1)]
        self.requests += 1
        for count, arrived in self._arrivals:
            if self.requests >= count:
                arrived.set()
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await request.read()
            if self.gate is not None and self.requests == 1:
                await self.gate.wait()
            else:
                await asyncio.sleep(delay)
            return web.json_response(STEP)
        finally:
            self.in_flight -= 1


@pytest.fixture
async def serve() -> AsyncIterator[Any]:
    runners: list[web.AppRunner] = []

    async def start(server: SlowServer) -> str:
        app = web.Application()
        app.router.add_route("*", "/api/v2/my/verifications/wizard", server.handle)
        app.router.add_route("*", "/api/v2/my/verifications", server.handle)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        runners.append(runner)
        host, port = runner.addresses[0][:2]
        return f"http://{host}:{port}/api"

    yield start
    for runner in runners:
        await runner.cleanup()


def queue_watch() -> tuple[aiohttp.TraceConfig, SimpleNamespace]:
    """A trace config counting the requests aiohttp itself queued for a pooled connection."""
    seen = SimpleNamespace(queued=0)

    async def on_queued(*_: object) -> None:
        seen.queued += 1

    config = aiohttp.TraceConfig()
    config.on_connection_queued_start.append(on_queued)
    return config, seen


async def test_calls_beyond_the_pool_wait_in_kycflow_not_in_aiohttp(serve: Any) -> None:
    server = SlowServer(0.05)
    base = await serve(server)
    config, seen = queue_watch()
    async with (
        aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=3), trace_configs=[config]
        ) as session,
        kycflow.Client(base, allow_insecure_http=True, session=session) as client,
    ):
        authed = client.with_auth(kycflow.BearerToken("t" * 32))
        steps = await asyncio.gather(*(authed.wizard.start() for _ in range(12)))
    assert [s.uuid for s in steps] == ["v-1"] * 12
    assert server.requests == 12
    assert server.most_in_flight == 3  # the caller's pool, no more and no less
    assert seen.queued == 0


async def test_an_owned_pool_is_kept_to_its_limit(serve: Any) -> None:
    server = SlowServer(0.05)
    base = await serve(server)
    async with kycflow.Client(base, allow_insecure_http=True, connection_limit=2) as client:
        authed = client.with_auth(kycflow.BearerToken("t" * 32))
        await asyncio.gather(*(authed.wizard.start() for _ in range(8)))
    assert (server.requests, server.most_in_flight) == (8, 2)


@pytest.mark.parametrize(
    ("busy_for", "seconds"),
    [
        (1.5, 0.5),  # the wait outlasts the submit's whole time
        # It would get the connection with about 0.1 s of its 2.0 s left, under a tenth (the
        # holder is released that long after the submit began to wait): sent, it could only
        # time out on the way, an unknown outcome.
        (1.9, 2.0),
    ],
)
async def test_a_post_that_waited_out_its_time_is_never_sent(
    serve: Any, busy_for: float, seconds: float
) -> None:
    server = SlowServer(busy_for, 0.0)
    base = await serve(server)
    async with kycflow.Client(
        base, allow_insecure_http=True, connection_limit=1, timeout=seconds, max_retries=0
    ) as client:
        authed = client.with_auth(kycflow.BearerToken("t" * 32))
        server.gate = asyncio.Event()
        holder = asyncio.create_task(authed.wizard.start(timeout=5))
        await server.reached(1)
        submit = asyncio.create_task(authed.wizard.submit("v-1", 2, ["stored/a.jpg"]))
        sender = authed.transport.sender
        assert isinstance(sender, kycflow.transport.AiohttpTransport)
        await eventually(lambda: sender.waiting > 0, "the submit to wait", 5, interval=0)
        await asyncio.sleep(busy_for)  # the holder is busy that long from the submit's start
        server.gate.set()
        with pytest.raises(APITimeoutError) as caught:
            await submit
        assert (await holder).uuid == "v-1"
        # The place it gave back (or never took) serves the next call at once.
        assert (await authed.wizard.start()).uuid == "v-1"
    assert caught.value.connecting is True
    assert not isinstance(caught.value, OutcomeUnknownError)
    assert "free connection" in str(caught.value)
    assert server.requests == 2  # the holder and the last start: never the submit
    assert server.most_in_flight == 1


async def test_the_time_waited_counts_against_the_request_total(serve: Any) -> None:
    # The second call waits 0.5 s for the one connection, then its own reply takes 1.8 s: with
    # 2.0 s in all it must time out, though 1.8 s alone would fit. It is sent: it waited a
    # quarter of its time.
    server = SlowServer(0.0, 1.8)
    base = await serve(server)
    async with kycflow.Client(
        base, allow_insecure_http=True, connection_limit=1, timeout=2.0, max_retries=0
    ) as client:
        authed = client.with_auth(kycflow.BearerToken("t" * 32))
        sender = authed.transport.sender
        assert isinstance(sender, kycflow.transport.AiohttpTransport)
        server.gate = asyncio.Event()
        first = asyncio.create_task(authed.wizard.start())
        await server.reached(1)
        second = asyncio.create_task(authed.wizard.start())
        await eventually(lambda: sender.waiting > 0, "the second call to wait", 5, interval=0)
        await asyncio.sleep(0.5)
        server.gate.set()
        with pytest.raises(APITimeoutError) as caught:
            await second
        assert (await first).uuid == "v-1"
    assert caught.value.connecting is False  # it was sent: it timed out waiting for the reply
    assert server.requests == 2


@contextlib.asynccontextmanager
async def busy_pool(serve: Any) -> AsyncIterator[tuple[SlowServer, kycflow.Client, list[Any]]]:
    """A client of two connections, both held by calls answered after 0.3 s (the calls'
    tasks); later calls are answered at once."""
    server = SlowServer(0.3, 0.3, 0.0)
    base = await serve(server)
    async with kycflow.Client(base, allow_insecure_http=True, connection_limit=2) as client:
        authed = client.with_auth(kycflow.BearerToken("t" * 32))
        holders = [asyncio.create_task(authed.wizard.start()) for _ in range(2)]
        await server.reached(2)
        yield server, authed, holders


async def test_a_call_cancelled_while_it_waits_takes_no_place(serve: Any) -> None:
    async with busy_pool(serve) as (server, authed, holders):
        waiting = [asyncio.create_task(authed.wizard.start()) for _ in range(5)]
        await asyncio.sleep(0.05)
        for task in waiting:
            task.cancel()
        await asyncio.gather(*holders)
        server.most_in_flight = 0
        server.delays = [0.05]
        # Both places are free again: two calls at once reach the server together.
        await asyncio.gather(*(authed.wizard.start() for _ in range(6)))
    assert all(task.cancelled() for task in waiting)
    assert server.requests == 8
    assert server.most_in_flight == 2


async def test_a_call_cancelled_as_it_is_handed_a_place_passes_it_on(
    serve: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kycflow._http.aiohttp_transport import _Places

    async with busy_pool(serve) as (server, authed, holders):
        first = asyncio.create_task(authed.wizard.start())
        await asyncio.sleep(0.02)
        second = asyncio.create_task(authed.wizard.start())
        await asyncio.sleep(0.02)
        give_back = _Places.give_back
        handed: list[bool] = []

        def give_back_then_cancel(places: Any) -> None:
            give_back(places)
            if not handed:  # the first place freed goes to ``first``: cancel it before it runs
                handed.append(True)
                first.cancel()

        monkeypatch.setattr(_Places, "give_back", give_back_then_cancel)
        await asyncio.gather(*holders)
        await asyncio.wait_for(second, 5)
        server.most_in_flight = 0
        server.delays = [0.05]
        # The place ``first`` was handed was passed on, not lost: both are free again.
        await asyncio.gather(*(authed.wizard.start() for _ in range(4)))
    assert first.cancelled()
    assert server.requests == 7  # ``first`` sent nothing
    assert server.most_in_flight == 2


async def test_the_queue_survives_a_look_at_the_session(serve: Any) -> None:
    async with busy_pool(serve) as (server, authed, holders):
        authed.transport.session()  # public: must not open a second, empty queue
        more = [asyncio.create_task(authed.wizard.start()) for _ in range(4)]
        await asyncio.sleep(0.05)
        sender = authed.transport.sender
        assert isinstance(sender, kycflow.transport.AiohttpTransport)
        assert sender.waiting == 4
        await asyncio.gather(*holders, *more)
        assert sender.waiting == 0
    assert (server.requests, server.most_in_flight) == (6, 2)


# The queue itself, without HTTP: first come first served, no barging past those waiting, and
# no place lost to a waiter cancelled just as it was handed one.


async def wait_for_place(places: Any, give_up_after: float | None = None) -> None:
    """A place from ``places`` as ``AiohttpTransport.send`` takes one from a full pool."""
    waiter, timer = places.join(give_up_after)
    try:
        placed = await waiter
    except BaseException:
        places.leave(waiter)
        raise
    finally:
        if timer is not None:
            timer.cancel()
    if not placed:
        raise TimeoutError


async def test_places_are_handed_over_in_turn_and_never_lost() -> None:
    from kycflow._http.aiohttp_transport import _Places

    places = _Places(1)
    assert places.take()
    order: list[int] = []

    async def waiter(number: int) -> None:
        await wait_for_place(places)
        order.append(number)

    tasks = [asyncio.create_task(waiter(n)) for n in range(4)]
    await asyncio.sleep(0)
    tasks[1].cancel()  # cancelled while waiting: skipped
    places.give_back()  # handed to waiter 0...
    tasks[0].cancel()  # ...which is cancelled before it runs: the place passes to waiter 2
    assert not places.take()  # others are waiting: no barging past them
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert order == [2]
    places.give_back()
    await asyncio.sleep(0)
    assert order == [2, 3]
    places.give_back()
    assert places.take()  # nobody left waiting: the place is free again
    assert not places.take()
    assert [t.cancelled() for t in tasks] == [True, True, False, False]


async def test_a_waiter_that_times_out_takes_no_place_and_leaves_no_timer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from kycflow._http.aiohttp_transport import _Places

    loop = asyncio.get_running_loop()
    timers: list[asyncio.TimerHandle] = []
    call_later = loop.call_later

    def recording_call_later(
        delay: float, callback: Any, *args: Any, **kwargs: Any
    ) -> asyncio.TimerHandle:
        timers.append(call_later(delay, callback, *args, **kwargs))
        return timers[-1]

    monkeypatch.setattr(loop, "call_later", recording_call_later)
    places = _Places(1)
    assert places.take()
    with pytest.raises(TimeoutError):
        await wait_for_place(places, 0.01)
    [timed_out] = places._waiters
    assert timed_out.done()
    assert timed_out.result() is False  # no exception (and traceback) kept while it waits
    patient = asyncio.create_task(wait_for_place(places, 5.0))
    await asyncio.sleep(0)
    places.give_back()  # skips the timed-out waiter: the patient one gets the place
    await patient
    assert not places.take()  # the place is the patient waiter's
    places.give_back()
    assert places.take()
    assert len(timers) == 2
    assert all(t.cancelled() for t in timers)  # neither wait leaves its timer scheduled
