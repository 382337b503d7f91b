"""Fleets share the pause and the rate: several worker processes with RedisCoordinators on one
real redis-server, against one loopback server that counts arrivals."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio
from aiohttp import web
from arqkit import read_line, stop_process, worker_env

import kycflow
from kycflow._http.transport import CallOptions, Transport, make_timeout
from kycflow.integrations.redis_coordination import RedisCoordinator

pytestmark = pytest.mark.redis

WORKER = str(Path(__file__).with_name("flow_worker.py"))


@dataclass
class Server:
    url: str = ""
    arrivals: list[tuple[float, int]] = field(default_factory=list)
    limit_first: float | None = None


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    state = Server()

    async def handle(request: web.Request) -> web.Response:
        if state.limit_first is not None and not state.arrivals:
            state.arrivals.append((time.monotonic(), 429))
            return web.json_response(
                {"error": "slow down"}, status=429,
                headers={"Retry-After": str(int(state.limit_first))},
            )  # fmt: skip
        state.arrivals.append((time.monotonic(), 200))
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_get("/thing", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    state.url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    try:
        yield state
    finally:
        await runner.cleanup()


def _spawn(redis_url: str, base: str, n: int, rate: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, WORKER, redis_url, base, str(n), rate],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env=worker_env(),
    )


async def _run_workers(redis_url: str, base: str, count: int, n: int, rate: str) -> list[Any]:
    procs = [_spawn(redis_url, base, n, rate) for _ in range(count)]
    try:
        for proc in procs:
            line = await asyncio.to_thread(read_line, proc, 20)
            assert line.strip() == "ready", line
        for proc in procs:  # all start at once
            assert proc.stdin is not None
            proc.stdin.write(b"go\n")
            proc.stdin.flush()
        outputs = [await asyncio.to_thread(read_line, proc, 30) for proc in procs]
    finally:
        for proc in procs:
            stop_process(proc)
    return [json.loads(out) for out in outputs]


def _surely_in_one_window(hits: list[tuple[float, float]], window: float) -> int:
    """The most admitted hits whose limiter timestamps surely lie in one ``window``: each was
    taken between the hit's ``(before, after)`` times, so hits with ``before >= s`` and
    ``after < s + window`` were counted within ``[s, s + window)``."""
    return max(sum(1 for b, a in hits if b >= s and a < s + window) for s, _ in hits)


async def test_workers_together_keep_to_the_shared_rate(
    redis_url: str, redis_client: Any, server: Server
) -> None:
    results = await _run_workers(redis_url, server.url, count=3, n=20, rate="20/second")
    assert all(r["statuses"] == [200] * 20 for r in results), results
    assert len(server.arrivals) == 60
    hits = [(b, a) for r in results for b, a in r["admitted"]]
    assert len(hits) == 60
    # The limiter's promise: at most 20 hits counted in any second (its moving window, on the
    # timestamps it takes before its Redis call), so 60 hits span more than 2 s. Measured on
    # those timestamps' bounds, not on the server's arrivals: an arrival lags its admission by
    # a delay a loaded machine stretches (a burst admitted at a window's end lands among the
    # previous one). Without the shared rate all 60 would be admitted within a few ms.
    assert _surely_in_one_window(hits, 1.0) <= 20
    assert max(a for _, a in hits) - min(b for b, _ in hits) > 2.0


async def test_one_workers_retry_after_pauses_the_whole_fleet(
    redis_url: str, redis_client: Any, server: Server
) -> None:
    server.limit_first = 3
    conn = redis.asyncio.Redis.from_url(redis_url)
    shared = RedisCoordinator(conn, prefix="t:flow:")
    transport = Transport(
        server.url, allow_insecure_http=True, coordinator=shared, max_retry_after=3
    )
    try:
        with pytest.raises(kycflow.RateLimitError):
            await transport.send("GET", "/thing", options=CallOptions(make_timeout(5), 0, 5.0))
        host = server.url.removeprefix("http://")
        assert 2.0 < await shared.remaining_pause(host) <= 3.0
        # Workers that never saw the 429 start now: none of them sends before the pause ends.
        results = await _run_workers(redis_url, server.url, count=3, n=4, rate="none")
    finally:
        await transport.aclose()
        await conn.aclose()
    assert all(r["statuses"] == [200] * 4 for r in results), results
    limited_at = server.arrivals[0][0]
    assert [s for _, s in server.arrivals].count(429) == 1
    assert len(server.arrivals) == 1 + 12
    assert all(t >= limited_at + 2.9 for t, _ in server.arrivals[1:])


async def test_a_pause_is_extended_never_shortened_and_redis_trouble_fails_open(
    redis_client: Any,
) -> None:
    coordinator = RedisCoordinator(redis_client, prefix="t:flow:")
    await coordinator.pause("h", 5.0)
    await coordinator.pause("h", 1.0)
    assert await coordinator.remaining_pause("h") > 4.0
    with pytest.raises(TimeoutError):
        await coordinator.acquire("h", max_wait=1.0)

    class Broken:
        connection_pool = None

        async def pttl(self, key: str) -> int:
            raise ConnectionError("redis is down")

        async def eval(self, *args: Any) -> int:
            raise ConnectionError("redis is down")

    broken = RedisCoordinator(Broken())
    await broken.pause("h", 1.0)  # logged, not raised
    await broken.acquire("h")  # lets the request go


def test_a_bad_rate_string_is_refused(redis_client: Any) -> None:
    with pytest.raises(kycflow.ConfigurationError, match="rate"):
        RedisCoordinator(redis_client, rate="lots")
