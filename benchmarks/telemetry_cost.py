"""The cost of kycflow's OpenTelemetry instrumentation: client CPU per complete wizard flow with
an SDK configured, against the instrumentation turned off, in one run.

Modes (all over one shared ``kycflow.Client``, the throughput benchmark's flow: 3 steps,
7 requests, 14 spans a flow):

- ``off``: ``configure_telemetry(enabled=False)``; the hooks are shared no-op objects.
- ``api, no sdk``: the default with ``opentelemetry-api`` installed and no SDK configured by
  the app: kycflow's spans and instruments go to the API's no-op implementations.
- ``sdk, all sampled``: an SDK ``TracerProvider`` with the default sampler (every span
  recorded) and a ``BatchSpanProcessor``, plus a ``MeterProvider`` whose periodic reader
  collects every second. Both exporters discard what they get: the figure is the cost of the
  instrumentation and the SDK, not of an exporter's serialisation and network.
- ``sdk, 10% sampled``: the same with ``ParentBased(TraceIdRatioBased(0.1))``, a common
  production setting (metrics are still recorded for every request).

Rounds rotate the modes' order; every round uses fresh users. The ratio is each mode's median
client CPU per flow over the ``off`` mode's.

    python benchmarks/telemetry_cost.py                  # 7 rounds x 2000 flows per mode
    python benchmarks/telemetry_cost.py --rounds 9 --flows 3000
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _bench
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import (
    MetricExporter,
    MetricExportResult,
    PeriodicExportingMetricReader,
)
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.sampling import ParentBased, Sampler, TraceIdRatioBased
from throughput import kycflow_mode, measure, write_documents

import kycflow
from kycflow import _telemetry as telemetry
from kycflow._telemetry import configure_telemetry

TARGET = 1.05


class DiscardSpans(SpanExporter):
    """Counts the spans it is given, keeps none."""

    def __init__(self) -> None:
        self.count = 0

    def export(self, spans: Sequence[Any]) -> SpanExportResult:
        self.count += len(spans)
        return SpanExportResult.SUCCESS


class DiscardMetrics(MetricExporter):
    """Takes every collection, keeps none."""

    def __init__(self) -> None:
        super().__init__()
        self.collections = 0

    def export(self, metrics_data: Any, timeout_millis: float = 10_000, **kwargs: Any) -> Any:
        self.collections += 1
        return MetricExportResult.SUCCESS

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return True

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        return None


def sdk(sampler: Sampler | None) -> tuple[TracerProvider, MeterProvider, DiscardSpans]:
    spans = DiscardSpans()
    tracer_provider = TracerProvider() if sampler is None else TracerProvider(sampler=sampler)
    tracer_provider.add_span_processor(BatchSpanProcessor(spans))
    reader = PeriodicExportingMetricReader(DiscardMetrics(), export_interval_millis=1000)
    return tracer_provider, MeterProvider(metric_readers=[reader]), spans


async def main_async(args: argparse.Namespace) -> None:
    print(f"machine: {_bench.machine_note()}")
    client_cpus, sandbox_cpus, pin_note = _bench.cpu_plan(not args.no_pin)
    _bench.pin_self(client_cpus)
    print(f"cpus: {pin_note}")
    print(
        f"{args.rounds} rounds x {args.flows} flows per mode, concurrency {args.concurrency}, "
        f"log level {args.log_level}\n"
    )
    all_sampled = sdk(None)
    ratio_sampled = sdk(ParentBased(TraceIdRatioBased(0.1)))
    setups: dict[str, tuple[TracerProvider, MeterProvider, DiscardSpans] | str | None] = {
        "off": None,
        "api, no sdk": "global",
        "sdk, all sampled": all_sampled,
        "sdk, 10% sampled": ratio_sampled,
    }

    def use(name: str) -> None:
        setup = setups[name]
        if setup is None:
            assert not configure_telemetry(enabled=False)
        elif isinstance(setup, str):
            assert configure_telemetry()  # the global providers: the API's no-op ones here
        else:
            assert configure_telemetry(tracer_provider=setup[0], meter_provider=setup[1])

    results: dict[str, list[dict[str, float]]] = {name: [] for name in setups}
    rows: list[tuple[object, ...]] = []
    spans_seen: dict[str, int] = {}
    with (
        _bench.sandbox_process(cpus=sandbox_cpus) as sandbox,
        tempfile.TemporaryDirectory() as tmp,
    ):
        docs = Path(tmp)
        async with (
            _bench.Admin(sandbox) as admin,
            kycflow.Client(sandbox.base_url, connection_limit=args.concurrency) as client,
        ):
            flow = kycflow_mode(client, kycflow.DirectoryProvider(write_documents(docs)))
            for name in setups:  # warm-up: pools, caches, imports, instruments
                use(name)
                await measure(admin, sandbox, flow, min(args.flows, 200), args.concurrency)
            names = list(setups)
            for number in range(1, args.rounds + 1):
                shift = (number - 1) % len(names)
                for name in names[shift:] + names[:shift]:
                    use(name)
                    setup = setups[name]
                    before = 0
                    if isinstance(setup, tuple):
                        setup[0].force_flush()
                        before = setup[2].count
                    stats = await measure(admin, sandbox, flow, args.flows, args.concurrency)
                    if isinstance(setup, tuple):
                        setup[0].force_flush()
                        spans_seen[name] = spans_seen.get(name, 0) + setup[2].count - before
                    results[name].append(stats)
                    rows.append((number, name, stats["flows_per_s"], stats["client_cpu_ms"]))
                print(
                    f"round {number}: "
                    + ", ".join(
                        f"{n} {results[n][-1]['client_cpu_ms']:.3f} ms/flow" for n in names
                    ),
                    flush=True,
                )
    hooks_only(setups)
    for provider in (all_sampled, ratio_sampled):
        provider[0].shutdown()
        provider[1].shutdown()
    report(args, results, rows, spans_seen)


def report(
    args: argparse.Namespace,
    results: dict[str, list[dict[str, float]]],
    rows: list[tuple[object, ...]],
    spans_seen: dict[str, int],
) -> None:
    print("\n" + _bench.table(["round", "mode", "flows/s", "client CPU ms/flow"], rows) + "\n")
    base = _bench.median([r["client_cpu_ms"] for r in results["off"]])
    summary = []
    for name, runs in results.items():
        cpu = _bench.median([r["client_cpu_ms"] for r in runs])
        per_round = [
            r["client_cpu_ms"] / o["client_cpu_ms"]
            for r, o in zip(runs, results["off"], strict=True)
        ]
        flows = args.flows * args.rounds
        summary.append(
            (
                name,
                _bench.median([r["flows_per_s"] for r in runs]),
                cpu,
                cpu / base,
                _bench.median(per_round),
                f"{spans_seen.get(name, 0) / flows:.1f}",
            )
        )
    headers = [
        "mode",
        "median flows/s",
        "median client CPU ms/flow",
        "ratio of medians",
        "median per-round ratio",
        "spans exported/flow",
    ]
    print(_bench.table(headers, summary))
    for name, _, _, ratio, per_round, _ in summary[1:]:
        verdict = "met" if per_round <= TARGET else "NOT met"
        print(
            f"\n{name}: client CPU per flow x{per_round:.3f} of instrumentation off "
            f"(median per-round ratio; ratio of medians x{ratio:.3f}); "
            f"target <= x{TARGET:.2f}: {verdict}"
        )


class _State:
    """Stands in for a run's state in ``hooks_only``."""

    class cp:  # the attribute the run span reads
        steps: ClassVar[list[object]] = []

    retries = 0
    resumed = False


class _Step:
    type_id = 2
    files: ClassVar[list[str]] = ["u1/passport.jpg"]
    reconciled = False


def _hooks_flow(url: str) -> None:
    """The hook calls of one default flow, without the flow: 14 spans, 10 durations."""
    with telemetry.run_span("run", _State):  # type: ignore[arg-type]
        with telemetry.http_span("GET", url, "/v2/my/verifications/wizard", 1) as http:
            http.status(200)
        for number in (1, 2, 3):
            with telemetry.step_span(number) as step:
                with (
                    telemetry.upload_span(2, 4936),
                    telemetry.http_span("POST", url, "/v2/my/files", 1) as http,
                ):
                    http.status(201)
                with telemetry.http_span("POST", url, "/v2/my/verifications", 1) as http:
                    http.status(200)
                step.committed(_Step, refused=False)


def hooks_only(setups: dict[str, Any], flows: int = 3000) -> None:
    """CPU of the instrumentation hooks alone per flow, mode by mode (no I/O, no flow)."""
    url = "http://127.0.0.1:8080/api/v2/my/files"
    rows = []
    for name, setup in setups.items():
        if setup is None:
            configure_telemetry(enabled=False)
        elif isinstance(setup, str):
            configure_telemetry()
        else:
            configure_telemetry(tracer_provider=setup[0], meter_provider=setup[1])
        for _ in range(200):
            _hooks_flow(url)
        started = time.process_time()  # finer than os.times(); threads included
        for _ in range(flows):
            _hooks_flow(url)
        rows.append((name, (time.process_time() - started) * 1e6 / flows))
    configure_telemetry()
    print("\nthe hooks alone, in a loop (what the modes add to a flow, without the flow):")
    print(_bench.table(["mode", "client CPU us/flow"], rows))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--flows", type=int, default=2000, help="flows per mode per round")
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--no-pin", action="store_true", help="do not pin client and sandbox")
    parser.add_argument("--log-level", default="WARNING", help="kycflow's structlog level")
    args = parser.parse_args()
    kycflow.configure_logging(getattr(logging, args.log_level.upper()))
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
