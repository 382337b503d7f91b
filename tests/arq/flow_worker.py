"""A worker process of the shared flow-control test: ``python flow_worker.py REDIS BASE N RATE``.

It opens a Client whose coordinator is a RedisCoordinator on REDIS (rate RATE, or "none"),
prints "ready", waits for a line on stdin, makes N concurrent GETs to BASE/thing and prints, as
JSON, the statuses (or error names) and the admitted rate hits: for each, the wall-clock times
just before and just after the limiter's Redis call, between which the limiter took the
timestamp its moving window counts (the processes share the machine's clock).
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any

import redis.asyncio

from kycflow._http.transport import CallOptions, Transport, make_timeout
from kycflow.integrations.redis_coordination import RedisCoordinator


async def main(redis_url: str, base: str, n: int, rate: str) -> None:
    conn = redis.asyncio.Redis.from_url(redis_url)
    coordinator = RedisCoordinator(conn, rate=None if rate == "none" else rate, prefix="t:flow:")
    transport = Transport(base, allow_insecure_http=True, coordinator=coordinator)
    admitted: list[tuple[float, float]] = []
    limiter = coordinator._limiter  # the test checks what the limiter itself admitted
    if limiter is not None:
        hit = limiter.hit

        async def timed_hit(*args: Any) -> bool:
            before = time.time()
            ok = bool(await hit(*args))
            if ok:
                admitted.append((before, time.time()))
            return ok

        limiter.hit = timed_hit
    print("ready", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    options = CallOptions(make_timeout(10.0), 2, 20.0)

    async def one() -> object:
        try:
            return (await transport.send("GET", "/thing", options=options)).status
        except Exception as exc:
            return type(exc).__name__

    try:
        results = await asyncio.gather(*(one() for _ in range(n)))
    finally:
        await transport.aclose()
        await conn.aclose()
    print(json.dumps({"statuses": results, "admitted": admitted}), flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]))
