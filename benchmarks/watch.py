"""10,000 users watched by one process over one client: the rate cap, grant-to-event delay,
memory per watched user; ``LevelWatcher`` against a hand-written round-robin poller.

The sandbox (a child process) grants each user's level ``--review-min``..``--review-max``
seconds after its wizard ends. Each round creates ``--users`` users, runs their (one-step)
wizards, then watches them all until every grant has been seen:

- ``watcher``: ``kycflow.LevelWatcher(max_rps=--cap)``, adaptive polling (2 s after the wizard,
  x1.5 up to 60 s), awaiting "Level 1" (the users are added when all wizards are done);
- ``round-robin``: the baseline an integrator writes by hand: every user in turn, one request
  per ``1/cap`` seconds, until each has its level.

Requests are timed as the client sends them (an aiohttp trace on the one session): "max/s" is
the most sent in any one-second window, to compare with the cap. Delay: from the sandbox's
grant time (its review log) to the event, for grants made once the watch had begun. Rounds
alternate the two. Memory, in a last phase: a fresh watcher over ``--users`` new users (no level
awaited), once each has been polled: traced allocations and RSS growth per watched user, from
just before the users were added (their tokens already in memory).

    python benchmarks/watch.py                      # 10,000 users, cap 400/s
    python benchmarks/watch.py --users 2000 --cap 200 --rounds 2
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import logging
import sys
import tempfile
import time
import tracemalloc
from collections import deque
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _bench

import kycflow

SELFIE = (_bench.ASSETS / "selfie.jpg").read_bytes()
SCENARIO: dict[str, Any] = {
    "levels": [{"id": 1, "name": "Level 0"}, {"id": 2, "name": "Level 1"}],
    "initial_level": 1,
    "steps": [{"name": "Selfie", "types": [{"id": 3, "description": "Selfie"}]}],
}
POLICY = kycflow.PollPolicy(initial=2.0, factor=1.5, maximum=60.0, jitter=0.2)


class SendLog:
    """When each request was sent (an aiohttp trace)."""

    def __init__(self) -> None:
        self.sent: list[float] = []

    def trace(self) -> aiohttp.TraceConfig:
        config = aiohttp.TraceConfig()

        async def on_start(*_: Any) -> None:
            self.sent.append(time.time())

        config.on_request_start.append(on_start)
        return config

    def max_per_second(self, since: float) -> int:
        window: deque[float] = deque()
        best = 0
        for stamp in (t for t in self.sent if t >= since):
            window.append(stamp)
            while stamp - window[0] >= 1.0:
                window.popleft()
            best = max(best, len(window))
        return best


async def finish_wizards(client: kycflow.Client, tokens: list[str]) -> None:
    provider = kycflow.MemoryProvider({3: SELFIE})
    limit = asyncio.Semaphore(200)

    async def one(token: str) -> None:
        async with limit:
            view = client.with_auth(kycflow.BearerToken(token))
            await kycflow.WizardRunner(view, provider).run()

    await asyncio.gather(*(one(t) for t in tokens))


async def watch_adaptive(
    client: kycflow.Client, auths: list[kycflow.Auth], cap: float, seen: dict[int, float]
) -> None:
    def on_grant(event: kycflow.LevelGranted) -> None:
        seen[int(event.key)] = time.time()

    watcher = kycflow.LevelWatcher(
        client, max_rps=cap, concurrency=100, poll=POLICY, on_grant=on_grant
    )
    async with watcher:
        for i, auth in enumerate(auths):
            watcher.add(str(i), auth, level="Level 1")
        await watcher.join()


async def watch_round_robin(
    client: kycflow.Client, auths: list[kycflow.Auth], cap: float, seen: dict[int, float]
) -> None:
    waiting = list(range(len(auths)))
    gap = 1.0 / cap
    tasks: set[asyncio.Task[None]] = set()

    async def poll(i: int) -> None:
        page = await client.with_auth(auths[i]).verifications.list(limit=1, max_retries=0)
        level = page.data[0].current_level if page.data else None
        if level is not None and level.name == "Level 1" and i not in seen:
            seen[i] = time.time()

    next_at = time.monotonic()
    while waiting:
        for i in waiting:
            next_at += gap
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))
            task = asyncio.create_task(poll(i))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        await asyncio.gather(*tasks, return_exceptions=True)
        waiting = [i for i in waiting if i not in seen]


async def create_users(sandbox: _bench.SandboxProcess, count: int) -> tuple[list[str], list[str]]:
    """``count`` fresh users: their emails and access tokens, in the same order."""
    emails: list[str] = []
    tokens: list[str] = []
    async with aiohttp.ClientSession() as http:
        while len(tokens) < count:
            body = {"count": min(2000, count - len(tokens))}
            async with http.post(sandbox.root_url + "/_sandbox/users", json=body) as resp:
                resp.raise_for_status()
                for user in (await resp.json())["users"]:
                    emails.append(user["email"])
                    tokens.append(user["access_token"])
    return emails, tokens


async def one_round(
    sandbox: _bench.SandboxProcess, kind: str, users: int, cap: float
) -> dict[str, Any]:
    log = SendLog()
    async with _bench.Admin(sandbox) as admin:
        await admin.reset()
    emails, tokens = await create_users(sandbox, users)
    session = aiohttp.ClientSession(trace_configs=[log.trace()])
    async with session, kycflow.Client(sandbox.base_url, session=session) as client:
        await finish_wizards(client, tokens)
        auths: list[kycflow.Auth] = [kycflow.BearerToken(t) for t in tokens]
        seen: dict[int, float] = {}
        started = time.time()
        watch = watch_adaptive if kind == "watcher" else watch_round_robin
        await watch(client, auths, cap, seen)
        elapsed = time.time() - started
    async with (
        aiohttp.ClientSession() as http,
        http.get(sandbox.root_url + "/_sandbox/reviews") as resp,
    ):
        reviews = (await resp.json())["decided"]
    granted_at = {r["email"]: r["at"] for r in reviews if r["decision"] == "grant"}
    # Grants made before the watch began wait for it, not for a poll: left out of the delays.
    early = sum(1 for e in emails if granted_at.get(e, started) < started)
    delays = sorted(
        seen[i] - granted_at[e]
        for i, e in enumerate(emails)
        if e in granted_at and i in seen and granted_at[e] >= started
    )
    return {
        "kind": kind,
        "users": users,
        "seen": len(seen),
        "granted before watch": early,
        "requests": sum(1 for t in log.sent if t >= started),
        "max/s": log.max_per_second(started),
        "mean/s": round(sum(1 for t in log.sent if t >= started) / elapsed, 1),
        "p50 delay s": round(_bench.median(delays), 2),
        "p99 delay s": round(delays[int(len(delays) * 0.99) - 1], 2) if delays else 0,
        "elapsed s": round(elapsed, 1),
    }


async def memory_per_user(sandbox: _bench.SandboxProcess, users: int) -> dict[str, Any]:
    """What a watcher holds per watched user once each has been polled (its cursor set):
    traced Python allocations and RSS, before vs after, with the tokens already in memory."""
    async with _bench.Admin(sandbox) as admin:
        await admin.reset()
    _, tokens = await create_users(sandbox, users)
    auths: list[kycflow.Auth] = [kycflow.BearerToken(t) for t in tokens]
    async with kycflow.Client(sandbox.base_url) as client:
        watcher = kycflow.LevelWatcher(client, max_rps=5000, concurrency=100, poll=POLICY)
        gc.collect()
        tracemalloc.start()
        before = tracemalloc.take_snapshot()
        rss_before = _bench.proc_status()["VmRSS"]
        async with watcher:
            for i, auth in enumerate(auths):
                watcher.add(str(i), auth)  # no level: every user stays watched
            while watcher.requests < users:  # noqa: ASYNC110 - a counter, not an event
                await asyncio.sleep(0.1)
            await asyncio.sleep(0.5)  # the last polls' replies are handled
            gc.collect()
            after = tracemalloc.take_snapshot()
            rss_after = _bench.proc_status()["VmRSS"]
        tracemalloc.stop()
    grown = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
    return {
        "users": users,
        "traced bytes/user": round(grown / users),
        "RSS KiB/user": round((rss_after - rss_before) / users, 2),
    }


async def main(args: argparse.Namespace) -> None:
    logging.getLogger("kycflow").setLevel(logging.WARNING)
    scenario = {
        **SCENARIO,
        "review": {"delay": args.review_min, "delay_max": args.review_max, "seed": 1},
    }
    results: list[dict[str, Any]] = []
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump(scenario, handle)
    client_cpus, sandbox_cpus, note = _bench.cpu_plan(pin=True)
    _bench.pin_self(client_cpus)
    with _bench.sandbox_process(cpus=sandbox_cpus, scenario=handle.name) as sandbox:
        for n in range(args.rounds):
            kinds = ["watcher", "round-robin"] if n % 2 == 0 else ["round-robin", "watcher"]
            for kind in kinds:
                results.append(await one_round(sandbox, kind, args.users, args.cap))
                print(json.dumps(results[-1]), flush=True)
        memory = await memory_per_user(sandbox, args.users)
    Path(handle.name).unlink()  # noqa: ASYNC240 - once, at the end
    headers = list(results[0])
    print()
    print(f"cap {args.cap:g} requests/s; reviews {args.review_min:g}-{args.review_max:g} s")
    print(_bench.table(headers, [[r[h] for h in headers] for r in results]))
    ours = [r for r in results if r["kind"] == "watcher"]
    base = [r for r in results if r["kind"] == "round-robin"]
    for name in ("requests", "p50 delay s", "p99 delay s"):
        ratio = _bench.median([r[name] for r in ours]) / max(
            _bench.median([r[name] for r in base]), 1e-9
        )
        print(f"{name} ratio watcher / round-robin: {ratio:.2f}")
    print(f"max/s over cap: {max(r['max/s'] for r in ours) / args.cap:.2f} (must be <= 1.0)")
    print(
        f"memory per watched user ({memory['users']} watched, each polled once): "
        f"{memory['traced bytes/user']} B traced, {memory['RSS KiB/user']} KiB RSS"
    )
    print(_bench.machine_note() + "; " + note)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--cap", type=float, default=400.0)
    parser.add_argument("--review-min", type=float, default=40.0)
    parser.add_argument("--review-max", type=float, default=70.0)
    parser.add_argument("--rounds", type=int, default=1)
    asyncio.run(main(parser.parse_args()))
