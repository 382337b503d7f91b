"""The fleet for real: the sandbox in its own process, two arq worker processes sharing the
watched users through a real redis-server, one SIGKILLed mid-run. Every grant must reach the
stream exactly once."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from polling import eventually
from redis_fixtures import stop_process as stop

import kycflow
from kycflow.testing import Scenario
from kycflow.watch import FleetRegistry, event_from_stream

pytestmark = [pytest.mark.redis, pytest.mark.timeout(90)]

HERE = Path(__file__).parent
USERS = 24
STREAM = "kycflow:watch:grants"
JPEG = b"\xff\xd8\xff\xe0" + b"\x00\x10JFIF\x00" + bytes(range(256)) * 8
PDF = b"%PDF-1.4\n" + b"0" * 2000 + b"\n%%EOF\n"
PROVIDER = kycflow.MemoryProvider({2: JPEG, 3: JPEG, 4: ("address.pdf", PDF)})


@pytest.fixture
def sandbox_root(tmp_path: Path) -> Iterator[str]:
    """The sandbox in its own process; reviews grant 0.5 to 2.5 s after each wizard."""
    scenario = Scenario.default().to_dict()
    scenario["review"] = {"delay": 0.5, "delay_max": 2.5, "seed": 3}
    path = tmp_path / "scenario.json"
    path.write_text(json.dumps(scenario))
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "kycflow.testing",
            "--port",
            "0",
            "--no-throttle",
            "--scenario",
            str(path),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().decode()
        assert "listening on " in line, line
        yield line.split("listening on ", 1)[1].strip().removesuffix("/api")
    finally:
        stop(proc)
        assert proc.stdout is not None
        proc.stdout.close()


def start_worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "arq", "fleet_worker.WorkerSettings"],
            cwd=HERE,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


async def stream_events(redis: Any) -> list[tuple[str, kycflow.LevelGranted]]:
    entries = await redis.xrange(STREAM)
    return [(fields[b"worker"].decode(), event_from_stream(fields)) for _, fields in entries]


async def test_a_killed_worker_loses_no_grant_and_none_is_delivered_twice(
    redis_url: str, redis_client: Any, sandbox_root: str, tmp_path: Path
) -> None:
    base_url = sandbox_root + "/api"
    users_url = sandbox_root + "/_sandbox/users"
    async with aiohttp.ClientSession() as http, http.post(users_url, json={"count": USERS}) as r:
        assert r.status == 201
        users = (await r.json())["users"]
    tokens = {u["email"]: u["access_token"] for u in users}
    tokens_file = tmp_path / "tokens.json"
    tokens_file.write_text(json.dumps(tokens))
    registry = FleetRegistry(redis_client)
    for email in tokens:
        await registry.add(email, {"user": email}, level="Level 1")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(HERE), env.get("PYTHONPATH")]))
    env.update(
        KYCFLOW_TEST_BASE_URL=base_url,
        KYCFLOW_TEST_REDIS_URL=redis_url,
        KYCFLOW_TEST_TOKENS=str(tokens_file),
    )
    workers = [start_worker(env, tmp_path / f"worker-{i}.log") for i in range(2)]
    try:
        # Both workers have held leases before any grant: the users are spread over them. A
        # lease lasts only as long as its poll (a few ms), so the owners seen are gathered over
        # the samples: seldom do both workers hold one at the very instant of a sample.
        owners: set[bytes] = set()

        async def both_polling() -> bool:
            async for lease in redis_client.scan_iter("kycflow:watch:lease:*"):
                owners.add((await redis_client.get(lease) or b"").split(b"-")[0])
            return len(owners - {b""}) >= 2

        await eventually(both_polling, "both workers to claim users", 20)
        async with kycflow.Client(base_url) as client:
            await asyncio.gather(
                *(
                    kycflow.WizardRunner(client.with_auth(kycflow.BearerToken(t)), PROVIDER).run()
                    for t in tokens.values()
                )
            )

        async def some_delivered() -> bool:
            return len(await redis_client.xrange(STREAM)) >= USERS // 4

        await eventually(some_delivered, "the first grants", 20)
        so_far = Counter(w.split("-")[0] for w, _ in await stream_events(redis_client))
        victim = next(p for p in workers if str(p.pid) == so_far.most_common(1)[0][0])
        survivor = next(p for p in workers if p is not victim)
        victim.send_signal(signal.SIGKILL)
        victim.wait(5)

        async def all_delivered() -> bool:
            return len(await redis_client.xrange(STREAM)) >= USERS

        await eventually(all_delivered, "every grant", 30)
        await eventually(lambda: _zero(registry), "the registry to empty", 10)
        await asyncio.sleep(1.5)  # a lease's length: a late duplicate would show now
        events = await stream_events(redis_client)
    finally:
        for proc in workers:
            stop(proc)
    logs = _logs(tmp_path)
    assert Counter(e.key for _, e in events) == Counter(list(tokens)), logs
    assert all(e.awaited for _, e in events)
    assert all(e.current_level and e.current_level.name == "Level 1" for _, e in events)
    by_worker = Counter(w.split("-")[0] for w, _ in events)
    assert str(victim.pid) in by_worker, by_worker  # the victim delivered some before dying
    assert str(survivor.pid) in by_worker  # and the survivor the rest
    async with kycflow.Client(base_url) as client:
        for _, event in events[:5]:
            view = client.with_auth(kycflow.BearerToken(tokens[event.key]))
            newest = (await view.verifications.list(limit=1, sort_order="desc")).data[0]
            assert newest.id == event.verification.id


async def _zero(registry: FleetRegistry) -> bool:
    return await registry.count() == 0


def _logs(directory: Path) -> str:
    return "\n".join(p.read_text(errors="replace")[-2000:] for p in directory.glob("worker-*"))
