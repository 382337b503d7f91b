"""Complete wizard flows per second: ``WizardRunner`` against a hand-written raw aiohttp flow.

Both modes make exactly the same HTTP calls per flow against the same sandbox (a child process):
``GET /v2/my/verifications/wizard``, then per step one multipart ``POST /v2/my/files`` and one
``POST /v2/my/verifications`` (the default scenario: 3 steps, 7 requests a flow). Rounds alternate
which mode goes first; every round uses fresh users. The sandbox's request counters confirm the
two modes made the same requests.

    python benchmarks/throughput.py                      # 5 rounds x 2000 flows per mode
    python benchmarks/throughput.py --rounds 9 --flows 5000 --concurrency 100
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _bench

import kycflow

FlowFactory = Callable[[str], Awaitable[None]]

# Type id -> (file name, content type, bytes) of the default scenario's steps.
SAMPLES: dict[int, tuple[str, str, bytes]] = {
    2: ("passport.jpg", "image/jpeg", (_bench.ASSETS / "passport.jpg").read_bytes()),
    1: ("id_card.jpg", "image/jpeg", (_bench.ASSETS / "id_card.jpg").read_bytes()),
    3: ("selfie.jpg", "image/jpeg", (_bench.ASSETS / "selfie.jpg").read_bytes()),
    4: (
        "proof_of_address.pdf",
        "application/pdf",
        (_bench.ASSETS / "proof_of_address.pdf").read_bytes(),
    ),
}
REQUESTS_PER_FLOW = 7


class FlowError(Exception):
    """A raw flow got a reply it did not expect."""


def kycflow_mode(client: kycflow.Client) -> FlowFactory:
    """One flow = one ``WizardRunner.run()`` on a ``with_auth`` view of the shared client."""
    provider = kycflow.MemoryProvider({t: (name, data) for t, (name, _, data) in SAMPLES.items()})

    async def flow(token: str) -> None:
        runner = kycflow.WizardRunner(client.with_auth(kycflow.BearerToken(token)), provider)
        result = await runner.run()
        if not result.done:
            raise FlowError("the run ended before the final step")

    return flow


def raw_mode(session: aiohttp.ClientSession, base_url: str) -> FlowFactory:
    """The same flow written directly against aiohttp (what a careful user would write)."""
    wizard_url = base_url + "/v2/my/verifications/wizard"
    submit_url = base_url + "/v2/my/verifications"
    upload_url = base_url + "/v2/my/files"

    async def flow(token: str) -> None:
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        async with session.get(wizard_url, headers=headers) as resp:
            if resp.status != 200:
                raise FlowError(f"wizard: HTTP {resp.status}")
            step: Any = await resp.json()
        while step["code"] == 200:
            type_id = next(
                t["id"] for t in step["data"]["types"] if t["enabled"] and t["id"] in SAMPLES
            )
            name, content_type, data = SAMPLES[type_id]
            form = aiohttp.FormData()
            form.add_field("file", data, filename=name, content_type=content_type)
            async with session.post(upload_url, data=form, headers=headers) as resp:
                if resp.status not in (200, 201):
                    raise FlowError(f"upload: HTTP {resp.status}")
                stored = (await resp.json())["data"]["file"]
            body = {
                "data": {"documents": {"type": type_id, "files": [stored]}, "uuid": step["uuid"]}
            }
            async with session.post(submit_url, json=body, headers=headers) as resp:
                if resp.status != 200:
                    raise FlowError(f"submit: HTTP {resp.status}")
                step = await resp.json()
        if step["code"] != 202:
            raise FlowError(f"unexpected final code {step['code']}")

    return flow


async def run_flows(flow: FlowFactory, tokens: list[str], concurrency: int) -> float:
    """Run one flow per token, ``concurrency`` at a time (a worker pool); wall seconds."""
    feed: Iterator[str] = iter(tokens)

    async def worker() -> None:
        for token in feed:
            await flow(token)

    started = time.perf_counter()
    async with asyncio.TaskGroup() as group:
        for _ in range(concurrency):
            group.create_task(worker())
    return time.perf_counter() - started


async def measure(
    admin: _bench.Admin,
    sandbox: _bench.SandboxProcess,
    flow: FlowFactory,
    flows: int,
    concurrency: int,
) -> dict[str, float]:
    """One mode, one round, on fresh users; checks the sandbox's records afterwards."""
    await admin.reset()
    tokens = await admin.create_tokens(flows)
    cpu0, sb_cpu0 = _bench.cpu_seconds_self(), sandbox.cpu_seconds()
    wall = await run_flows(flow, tokens, concurrency)
    cpu, sb_cpu = _bench.cpu_seconds_self() - cpu0, sandbox.cpu_seconds() - sb_cpu0
    records = await admin.records()
    counts = records["requests"]["by_route"]
    completed = sum(1 for s in records["submissions"] if s["completed"])
    if records["problems"] or records["duplicates"] or completed != flows:
        raise SystemExit(f"the sandbox saw problems: {records['problems'][:5]}")
    return {
        "wall": wall,
        "flows_per_s": flows / wall,
        "client_cpu_ms": cpu * 1000 / flows,
        "sandbox_cpu_ms": sb_cpu * 1000 / flows,
        "requests": records["requests"]["total"],
        "wizard": counts.get("wizard", 0),
        "upload": counts.get("upload", 0),
        "submit": counts.get("submit", 0),
    }


async def main_async(args: argparse.Namespace) -> None:
    print(f"machine: {_bench.machine_note()}")
    client_cpus, sandbox_cpus, pin_note = _bench.cpu_plan(not args.no_pin)
    _bench.pin_self(client_cpus)
    print(f"cpus: {pin_note}")
    print(
        f"{args.rounds} rounds x {args.flows} flows per mode, concurrency {args.concurrency}, "
        f"connection limit {args.concurrency}, log level {args.log_level}\n"
    )
    with _bench.sandbox_process(cpus=sandbox_cpus) as sandbox:
        async with (
            _bench.Admin(sandbox) as admin,
            kycflow.Client(sandbox.base_url, connection_limit=args.concurrency) as client,
            aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=args.concurrency),
                timeout=aiohttp.ClientTimeout(total=60),
            ) as session,
        ):
            modes = {
                "kycflow": kycflow_mode(client),
                "raw aiohttp": raw_mode(session, sandbox.base_url),
            }
            for flow in modes.values():  # warm-up: pools, caches, imports
                await measure(admin, sandbox, flow, min(args.flows, 200), args.concurrency)
            results: dict[str, list[dict[str, float]]] = {name: [] for name in modes}
            rows: list[tuple[object, ...]] = []
            for number in range(1, args.rounds + 1):
                order = list(modes) if number % 2 else list(reversed(modes))
                for name in order:
                    stats = await measure(admin, sandbox, modes[name], args.flows, args.concurrency)
                    results[name].append(stats)
                    rows.append(
                        (
                            number,
                            name,
                            stats["flows_per_s"],
                            stats["client_cpu_ms"],
                            stats["sandbox_cpu_ms"],
                            int(stats["requests"]),
                        )
                    )
                kyc, raw = results["kycflow"][-1], results["raw aiohttp"][-1]
                rows.append((number, "ratio", kyc["flows_per_s"] / raw["flows_per_s"], "", "", ""))
                print(
                    f"round {number}: kycflow {kyc['flows_per_s']:.0f} flows/s, raw "
                    f"{raw['flows_per_s']:.0f} flows/s",
                    flush=True,
                )

    headers = ["round", "mode", "flows/s", "client CPU ms/flow", "sandbox CPU ms/flow", "requests"]
    print("\n" + _bench.table(headers, rows) + "\n")
    summary = []
    for name, runs in results.items():
        summary.append(
            (
                name,
                _bench.median([r["flows_per_s"] for r in runs]),
                _bench.median([r["client_cpu_ms"] for r in runs]),
                _bench.median([r["sandbox_cpu_ms"] for r in runs]),
                "/".join(
                    str(int(_bench.median([r[k] for r in runs])))
                    for k in ("wizard", "upload", "submit")
                ),
            )
        )
    ratios = [
        k["flows_per_s"] / r["flows_per_s"]
        for k, r in zip(results["kycflow"], results["raw aiohttp"], strict=True)
    ]
    cpu_ratio = summary[1][2] / summary[0][2]
    print(
        _bench.table(
            [
                "mode",
                "median flows/s",
                "client CPU ms/flow",
                "sandbox CPU ms/flow",
                "requests per round wizard/upload/submit",
            ],
            summary,
        )
    )
    same = all(
        (k["wizard"], k["upload"], k["submit"]) == (r["wizard"], r["upload"], r["submit"])
        for k, r in zip(results["kycflow"], results["raw aiohttp"], strict=True)
    )
    expected = args.flows * REQUESTS_PER_FLOW
    print(
        f"\nkycflow / raw aiohttp flows/s: median of per-round ratios {_bench.median(ratios):.3f} "
        f"(min {min(ratios):.3f}, max {max(ratios):.3f}); target >= 0.90"
    )
    print(f"client CPU per flow, raw / kycflow: {cpu_ratio:.3f}")
    print(
        f"same requests per round in both modes: {same} "
        f"(expected {expected} = {args.flows} flows x {REQUESTS_PER_FLOW})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--flows", type=int, default=2000, help="flows per mode per round")
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--no-pin", action="store_true", help="do not pin client and sandbox")
    parser.add_argument("--log-level", default="WARNING", help="kycflow's structlog level")
    args = parser.parse_args()
    kycflow.configure_logging(getattr(logging, args.log_level.upper()))
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
