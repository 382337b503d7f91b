"""The cost of kycflow's OpenTelemetry instrumentation: client CPU per complete wizard flow with
an SDK configured, against the instrumentation turned off, in one run.

Modes (all over one shared ``kycflow.Client`` and a ``DirectoryProvider`` over files on disk:
the throughput benchmark's default flow, 3 steps, 9 requests, 16 spans and 12 histogram
measurements a flow):

- ``off``: ``configure_telemetry(enabled=False)``; the hooks are shared no-op objects.
- ``api, no sdk``: the default with ``opentelemetry-api`` installed and no SDK configured by
  the app: kycflow makes no span and its instruments are the API's no-ops.
- ``sdk, all sampled`` (the headline row): what ``opentelemetry-sdk``'s defaults give an app
  that configures it: a ``TracerProvider`` with the default sampler (ParentBased(ALWAYS_ON):
  every span recorded) and a ``BatchSpanProcessor`` with its default settings, plus a
  ``MeterProvider`` with a ``PeriodicExportingMetricReader`` collecting every second and the
  default exemplar filter (trace_based). The exporters are in-process and do no I/O: the span
  exporter counts what it gets and drops it, the metric exporter drops each collection. So the
  figure is the instrumentation and the SDK, not an exporter's encoding and network.
- ``sdk, all sampled, no exemplars``: the same with ``AlwaysOffExemplarFilter`` (what
  ``OTEL_METRICS_EXEMPLAR_FILTER=always_off`` sets): histograms stop sampling exemplars.
- ``sdk, 10% sampled``: the same as the headline with ``ParentBased(TraceIdRatioBased(0.1))``,
  a common production setting (metrics are still recorded for every request).

Rounds rotate the modes' order; every round uses fresh users. Ratios are taken per round
against that round's ``off``, then their median is quoted; the garbage collector's time per
flow is shown as well (the SDK's spans stay alive until exported, which makes collections
dearer). Then, without the flow, the hooks alone in a loop against the same spans and
measurements made by bare API calls (the SDK's floor), and the SDK's cost per span and per
measurement: what no instrumentation on this SDK can go below.

    python benchmarks/telemetry_cost.py                  # 5 rounds x 1500 flows per mode
    python benchmarks/telemetry_cost.py --rounds 9 --flows 3000
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _bench
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.metrics import AlwaysOffExemplarFilter, MeterProvider
from opentelemetry.sdk.metrics.export import (
    MetricExporter,
    MetricExportResult,
    PeriodicExportingMetricReader,
)
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.sampling import ParentBased, Sampler, TraceIdRatioBased
from opentelemetry.trace import SpanKind
from throughput import REQUESTS_PER_FLOW, kycflow_mode, measure, write_documents

import kycflow
from kycflow import _telemetry as telemetry
from kycflow._telemetry import configure_telemetry

TARGET = 1.05
HEADLINE = "sdk, all sampled"
MEASUREMENTS_PER_FLOW = REQUESTS_PER_FLOW + 3  # a duration per request and per step
SPANS_PER_FLOW = 1 + 3 * 2 + REQUESTS_PER_FLOW  # the run, a step and an upload per step, requests


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

    def export(self, metrics_data: Any, timeout_millis: float = 10_000, **kwargs: Any) -> Any:
        return MetricExportResult.SUCCESS

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return True

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        return None


class Sdk:
    """One SDK setup: providers with the SDK's default processor and a periodic reader."""

    def __init__(self, sampler: Sampler | None = None, *, exemplars: bool = True) -> None:
        self.spans = DiscardSpans()
        self.tracer_provider = TracerProvider(**({} if sampler is None else {"sampler": sampler}))
        self.tracer_provider.add_span_processor(BatchSpanProcessor(self.spans))
        reader = PeriodicExportingMetricReader(DiscardMetrics(), export_interval_millis=1000)
        extra = {} if exemplars else {"exemplar_filter": AlwaysOffExemplarFilter()}
        self.meter_provider = MeterProvider(metric_readers=[reader], **extra)

    def use(self) -> None:
        assert configure_telemetry(
            tracer_provider=self.tracer_provider, meter_provider=self.meter_provider
        )

    def exported(self) -> int:
        self.tracer_provider.force_flush()
        return self.spans.count

    def shutdown(self) -> None:
        self.tracer_provider.shutdown()
        self.meter_provider.shutdown()


def setups() -> dict[str, Sdk | str]:
    return {
        "off": "off",
        "api, no sdk": "global",
        HEADLINE: Sdk(),
        "sdk, all sampled, no exemplars": Sdk(exemplars=False),
        "sdk, 10% sampled": Sdk(ParentBased(TraceIdRatioBased(0.1))),
    }


def use(setup: Sdk | str) -> None:
    if isinstance(setup, Sdk):
        setup.use()
    elif setup == "off":
        assert not configure_telemetry(enabled=False)
    else:
        assert configure_telemetry()  # the global providers: the API's no-op ones here


class GcClock:
    """Seconds the garbage collector ran, from ``gc.callbacks``."""

    def __init__(self) -> None:
        self.total = 0.0
        self._started = 0.0
        gc.callbacks.append(self._tick)

    def _tick(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.total += time.perf_counter() - self._started


async def main_async(args: argparse.Namespace) -> dict[str, Sdk | str]:
    print(f"machine: {_bench.machine_note()}")
    client_cpus, sandbox_cpus, pin_note = _bench.cpu_plan(not args.no_pin)
    _bench.pin_self(client_cpus)
    print(f"cpus: {pin_note}")
    print(f"{args.rounds} rounds x {args.flows} flows per mode, concurrency {args.concurrency}\n")
    modes = setups()
    results: dict[str, list[dict[str, float]]] = {name: [] for name in modes}
    clock = GcClock()
    with (
        _bench.sandbox_process(cpus=sandbox_cpus) as sandbox,
        tempfile.TemporaryDirectory() as tmp,
    ):
        async with (
            _bench.Admin(sandbox) as admin,
            kycflow.Client(sandbox.base_url, connection_limit=args.concurrency) as client,
        ):
            flow = kycflow_mode(client, kycflow.DirectoryProvider(write_documents(Path(tmp))))
            for setup in modes.values():  # warm-up: pools, caches, imports, instruments
                use(setup)
                await measure(admin, sandbox, flow, min(args.flows, 200), args.concurrency)
            names = list(modes)
            for number in range(1, args.rounds + 1):
                shift = (number - 1) % len(names)
                for name in names[shift:] + names[:shift]:
                    setup = modes[name]
                    use(setup)
                    before = setup.exported() if isinstance(setup, Sdk) else 0
                    gc_before = clock.total
                    stats = await measure(admin, sandbox, flow, args.flows, args.concurrency)
                    stats["gc_ms"] = (clock.total - gc_before) * 1000 / args.flows
                    if isinstance(setup, Sdk):
                        stats["spans"] = (setup.exported() - before) / args.flows
                    results[name].append(stats)
                print(
                    f"round {number}: "
                    + ", ".join(f"{n} {results[n][-1]['client_cpu_ms']:.3f}" for n in names)
                    + " ms/flow",
                    flush=True,
                )
    report(results)
    return modes


def report(results: dict[str, list[dict[str, float]]]) -> None:
    off = results["off"]
    rows = []
    for name, runs in results.items():
        per_round = [
            r["client_cpu_ms"] / o["client_cpu_ms"] for r, o in zip(runs, off, strict=True)
        ]
        rows.append(
            (
                name,
                _bench.median([r["flows_per_s"] for r in runs]),
                _bench.median([r["client_cpu_ms"] for r in runs]),
                _bench.median([r["gc_ms"] for r in runs]),
                _bench.median(per_round),
                f"{_bench.median([r.get('spans', 0.0) for r in runs]):.1f}",
            )
        )
    headers = ["mode", "flows/s", "client CPU ms/flow", "of which GC", "CPU ratio", "spans/flow"]
    print("\n" + _bench.table(headers, rows))
    for name, _, _, _, ratio, _ in rows[1:]:
        verdict = "met" if ratio <= TARGET else "NOT met"
        print(f"{name}: x{ratio:.3f} of instrumentation off; target <= x{TARGET:.2f}: {verdict}")
    base = _bench.median([r["client_cpu_ms"] for r in off])
    print(f"\n(instrumentation off: {base:.3f} ms of client CPU per flow)")


@dataclass(frozen=True)
class _Checkpoint:
    steps: list[object] = field(default_factory=list)


@dataclass(frozen=True)
class _State:
    """Stands in for a run's state in ``hooks_flow`` (what the run span reads)."""

    cp: _Checkpoint = field(default_factory=_Checkpoint)
    retries: int = 0
    resumed: bool = False


@dataclass(frozen=True)
class _Step:
    """Stands in for a committed step (what the step span reads)."""

    type_id: int = 2
    files: list[str] = field(default_factory=lambda: ["u1/passport.jpg"])
    reconciled: bool = False


_STATE, _STEP = _State(), _Step()


def hooks_flow(url: str = "http://127.0.0.1:8080/api/v2/my/files") -> None:
    """The hook calls of one default flow, without the flow: 16 spans, 12 durations."""
    with telemetry.run_span("run", _STATE):
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
                if number < 3:  # the reference's echo: the next page is read
                    with telemetry.http_span("GET", url, "/v2/my/verifications/wizard", 1) as http:
                        http.status(200)
                step.committed(_STEP, refused=False)


def bare_flow(tracer_provider: Any, meter_provider: Any) -> Callable[[], None]:
    """The same spans (names, kinds, nesting, attributes) and measurements as ``hooks_flow``,
    made by bare API calls on the given providers: the least any instrumentation can do."""
    tracer = tracer_provider.get_tracer("bare")
    meter = meter_provider.get_meter("bare")
    http_duration, step_duration = meter.create_histogram("bare.http"), meter.create_histogram("s")
    base = {"server.address": "127.0.0.1", "server.port": 8080}
    requests = {
        (m, t): ({**base, "http.request.method": m, "url.template": t}, code)
        for m, t, code in (
            ("GET", "/v2/my/verifications/wizard", 200),
            ("POST", "/v2/my/files", 201),
            ("POST", "/v2/my/verifications", 200),
        )
    }
    metric = {k: {**a, "http.response.status_code": c} for k, (a, c) in requests.items()}
    outcome = {"kycflow.step.outcome": "committed"}
    upload_attributes = {"kycflow.document_type.id": 2, "kycflow.upload.size": 4936}
    step_end = {
        "kycflow.document_type.id": 2,
        "kycflow.step.file_count": 1,
        "kycflow.step.reconciled": False,
        "kycflow.step.refused": False,
        "kycflow.step.outcome": "committed",
    }
    run_end = {
        "kycflow.run.outcome": "completed",
        "kycflow.run.steps": 3,
        "kycflow.run.retries": 0,
        "kycflow.run.resumed": False,
    }

    def http(method: str, template: str) -> None:
        attributes, code = requests[method, template]
        span = tracer.start_span(template, kind=SpanKind.CLIENT, attributes=attributes)
        span.set_attributes({"http.response.status_code": code})
        span.end()
        http_duration.record(0.01, metric[method, template])

    def current(name: str, attributes: dict[str, Any]) -> tuple[Any, object]:
        span = tracer.start_span(name, attributes=attributes)
        return span, otel_context.attach(trace.set_span_in_context(span))

    def end(span: Any, token: Any, attributes: dict[str, Any]) -> None:
        otel_context.detach(token)
        span.set_attributes(attributes)
        span.end()

    def flow() -> None:
        run, run_token = current("run", {"kycflow.run.id": "run"})
        http("GET", "/v2/my/verifications/wizard")
        for number in (1, 2, 3):
            step, step_token = current("step", {"kycflow.step.number": number})
            upload, upload_token = current("upload", upload_attributes)
            http("POST", "/v2/my/files")
            end(upload, upload_token, {})
            http("POST", "/v2/my/verifications")
            if number < 3:
                http("GET", "/v2/my/verifications/wizard")
            step_duration.record(0.1, outcome)
            end(step, step_token, dict(step_end))
        end(run, run_token, dict(run_end))

    return flow


def per_call_floor(sdk: Sdk, calls: int = 20_000) -> tuple[float, float]:
    """Microseconds of one sampled span (start + end, one attribute) and of one histogram
    measurement of 5 attributes inside a sampled span, on ``sdk``'s providers."""
    tracer = sdk.tracer_provider.get_tracer("floor")
    histogram = sdk.meter_provider.get_meter("floor").create_histogram("floor")
    attributes = {"a": "GET", "b": "127.0.0.1", "c": 8080, "d": "/v2/my/files", "e": 200}

    def span() -> None:
        tracer.start_span("floor", attributes={"a": 1}).end()

    def record() -> None:
        histogram.record(0.01, attributes)

    parent = tracer.start_span("parent")
    token = otel_context.attach(trace.set_span_in_context(parent))
    try:
        return loop_us(span, calls), loop_us(record, calls)
    finally:
        otel_context.detach(token)
        parent.end()


def loop_us(flow: Callable[[], None], flows: int) -> float:
    """Microseconds of CPU per call of ``flow``, after a warm-up."""
    for _ in range(200):
        flow()
    started = time.process_time()  # finer than os.times(); threads included
    for _ in range(flows):
        flow()
    return (time.process_time() - started) * 1e6 / flows


def hooks_only(modes: dict[str, Sdk | str], flows: int = 3000, rounds: int = 5) -> None:
    """The hooks alone per flow, mode by mode, next to bare API calls of the same spans and
    measurements on the same SDK; then the SDK's own cost per span and per measurement."""
    times: dict[str, list[float]] = {}
    bare = {
        n: bare_flow(s.tracer_provider, s.meter_provider)
        for n, s in modes.items()
        if isinstance(s, Sdk)
    }
    for _ in range(rounds):
        for name, setup in modes.items():
            use(setup)
            times.setdefault(f"{name}: kycflow's hooks", []).append(loop_us(hooks_flow, flows))
            if name in bare:
                times.setdefault(f"{name}: bare API calls", []).append(loop_us(bare[name], flows))
    configure_telemetry()
    print(f"\nwithout the flow ({SPANS_PER_FLOW} spans, {MEASUREMENTS_PER_FLOW} measurements):")
    rows = [(name, _bench.median(values)) for name, values in times.items()]
    print(_bench.table(["mode", "CPU us/flow"], rows))
    sdk = modes[HEADLINE]
    assert isinstance(sdk, Sdk)
    span_us, record_us = per_call_floor(sdk)
    floor = SPANS_PER_FLOW * span_us + MEASUREMENTS_PER_FLOW * record_us
    print(
        f"\nthe SDK's floor ({HEADLINE}): {span_us:.1f} us a span (start + end, batch "
        f"processor), {record_us:.1f} us a histogram measurement (5 attributes, in a sampled "
        f"span): {floor:.0f} us for a flow's spans and measurements, before the garbage "
        "collector's share"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--flows", type=int, default=1500, help="flows per mode per round")
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--no-pin", action="store_true", help="do not pin client and sandbox")
    args = parser.parse_args()
    kycflow.configure_logging(logging.WARNING)
    modes = asyncio.run(main_async(args))
    hooks_only(modes)
    for setup in modes.values():
        if isinstance(setup, Sdk):
            setup.shutdown()


if __name__ == "__main__":
    main()
