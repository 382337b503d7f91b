"""Memory per in-flight ``WizardRunner`` run: 10,000 runs in flight at once in one process.

The sandbox (a child process) delays every wizard and submit reply (a ``slow`` fault), so no run
can finish while the others start: all runs are in flight together. With the client's default
connection pool (100 connections) only 100 requests are on the wire at a time; the other runs
wait inside the client for a free connection, which is still a run in flight holding all its
state. RSS is sampled every 10 ms; memory per run = (peak RSS - baseline RSS) / runs, where the
baseline is taken after warm-up with the users' tokens already in memory. Then the fault is
lifted and every run must complete; the sandbox's records are checked.

    python benchmarks/concurrency.py                  # 10,000 runs
    python benchmarks/concurrency.py --runs 20000 --slow 20
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _bench
from throughput import REQUESTS_PER_FLOW, SAMPLES

import kycflow

SLOW_ROUTES = ("wizard", "submit")


class Gauge:
    """Runs in flight now, and the most seen at once."""

    def __init__(self) -> None:
        self.now = 0
        self.peak = 0
        self.done = 0
        self.failed: list[str] = []


class CountingProvider(kycflow.MemoryProvider):
    """A MemoryProvider that counts the runs that reached their first step."""

    def __init__(self) -> None:
        super().__init__({t: (name, data) for t, (name, _, data) in SAMPLES.items()})
        self.first_step_calls = 0

    async def documents_for(self, doc_type: kycflow.DocumentType) -> list[kycflow.Document] | None:
        if doc_type.id == 2:  # asked only on the first step
            self.first_step_calls += 1
        return await super().documents_for(doc_type)


async def one_run(
    client: kycflow.Client, provider: kycflow.MemoryProvider, token: str, gauge: Gauge
) -> None:
    gauge.now += 1
    gauge.peak = max(gauge.peak, gauge.now)
    try:
        runner = kycflow.WizardRunner(client.with_auth(kycflow.BearerToken(token)), provider)
        result = await runner.run()
        if result.done:
            gauge.done += 1
    except kycflow.KycflowError as exc:
        gauge.failed.append(f"{type(exc).__name__}: {exc}")
    finally:
        gauge.now -= 1


async def sample_rss(stop: asyncio.Event, peaks: list[int], interval: float) -> None:
    """Track the highest VmRSS seen (VmHWM also covers what happened between samples)."""
    while not stop.is_set():
        peaks.append(_bench.proc_status()["VmRSS"])
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval)


async def main_async(args: argparse.Namespace) -> None:
    print(f"machine: {_bench.machine_note()}")
    client_cpus, sandbox_cpus, pin_note = _bench.cpu_plan(not args.no_pin)
    _bench.pin_self(client_cpus)
    print(f"cpus: {pin_note}")
    slow = {
        "slow_delay": args.slow,
        "rates": {route: {"slow": 1.0} for route in SLOW_ROUTES},
    }
    with _bench.sandbox_process(cpus=sandbox_cpus) as sandbox:
        async with (
            _bench.Admin(sandbox) as admin,
            kycflow.Client(sandbox.base_url, timeout=args.slow * 4 + 60) as client,
        ):
            # Warm-up without faults: imports, pools, pydantic and structlog caches.
            provider = CountingProvider()
            warm = Gauge()
            warm_tokens = await admin.create_tokens(200)
            await asyncio.gather(*(one_run(client, provider, t, warm) for t in warm_tokens))
            if warm.done != len(warm_tokens):
                raise SystemExit(f"warm-up failed: {warm.failed[:5]}")
            await admin.reset()
            tokens = await admin.create_tokens(args.runs)
            provider = CountingProvider()
            await admin.set_faults(slow)
            import gc

            gc.collect()
            baseline = _bench.proc_status()
            print(
                f"baseline before the runs: VmRSS {baseline['VmRSS'] / 1024:.1f} MiB "
                f"(tokens of {args.runs} users loaded)"
            )

            gauge = Gauge()
            stop = asyncio.Event()
            rss: list[int] = []
            sampler = asyncio.create_task(sample_rss(stop, rss, 0.01))
            started = time.perf_counter()
            tasks = [asyncio.create_task(one_run(client, provider, t, gauge)) for t in tokens]
            # Hold the fault long enough for every run to start and settle in its wait.
            await asyncio.sleep(args.slow * 0.8)
            in_flight_at_peak = gauge.now
            reached_first_step = provider.first_step_calls
            peak_sample = max(rss)
            hwm = _bench.proc_status()["VmHWM"]
            await admin.set_faults({})
            await asyncio.gather(*tasks)
            elapsed = time.perf_counter() - started
            stop.set()
            await sampler
            records = await admin.records()
            whole_hwm = _bench.proc_status()["VmHWM"]

    peak = max(peak_sample, hwm)
    per_run_kib = (peak - baseline["VmRSS"]) / args.runs
    completed = sum(1 for s in records["submissions"] if s["completed"])
    rows = [
        ("runs started", args.runs),
        ("peak runs in flight at once (counter around run())", gauge.peak),
        (f"runs in flight {args.slow * 0.8:.0f} s after start", in_flight_at_peak),
        ("... of which had reached their first step (provider counter)", reached_first_step),
        ("baseline VmRSS (MiB)", baseline["VmRSS"] / 1024),
        ("peak VmRSS while in flight (MiB, max of samples and VmHWM)", peak / 1024),
        ("memory per in-flight run (KiB)", per_run_kib),
        ("peak VmHWM over the whole benchmark, incl. the drain (MiB)", whole_hwm / 1024),
        ("same, per run (KiB)", (whole_hwm - baseline["VmRSS"]) / args.runs),
        ("runs completed after the fault was lifted", gauge.done),
        ("runs failed", len(gauge.failed)),
        ("first failure", gauge.failed[0][:60] if gauge.failed else "-"),
        ("sandbox: procedures completed", completed),
        ("sandbox: requests", records["requests"]["total"]),
        (
            "sandbox: duplicates / problems",
            f"{len(records['duplicates'])} / {len(records['problems'])}",
        ),
        ("wall time incl. the slow phase (s)", elapsed),
    ]
    print("\n" + _bench.table(["measure", "value"], rows))
    expected = args.runs * REQUESTS_PER_FLOW
    print(
        f"\nmemory per in-flight run: {per_run_kib:.1f} KiB (target <= 50 KB = 48.8 KiB); "
        f"all {args.runs} in flight at once: {gauge.peak == args.runs}; requests "
        f"{records['requests']['total']} (expected {expected} = runs x {REQUESTS_PER_FLOW})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument(
        "--slow", type=float, default=10.0, help="seconds the sandbox delays wizard/submit replies"
    )
    parser.add_argument("--no-pin", action="store_true", help="do not pin client and sandbox")
    parser.add_argument("--log-level", default="WARNING", help="kycflow's structlog level")
    args = parser.parse_args()
    kycflow.configure_logging(getattr(logging, args.log_level.upper()))
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
