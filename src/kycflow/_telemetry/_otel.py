"""The OpenTelemetry backend of ``kycflow._telemetry`` (imported only when the API is installed).

Spans follow the HTTP client semantic conventions for requests. Counts (runs, retries,
reconciliations, runs in flight, uploaded bytes, watcher polls and grants) are kept as plain
integers and reported through asynchronous instruments when a reader collects: an event costs
a dict update, not an SDK measurement. Durations are histograms, recorded as they happen.

The SDK's own work per span and per measurement is most of the cost (docs/observability.md,
"Cost"), so kycflow adds little to it: a request's attribute dicts are built once per method,
origin, template and outcome; a span's closing attributes are set in one call, and only on a
recording span; a request's span is never made current.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from typing import Any

import yarl
from opentelemetry import metrics, trace
from opentelemetry.metrics import CallbackOptions, Observation

from .._version import __version__
from ._handles import HttpHandle, Request, RunHandle, StepHandle, UploadHandle
from ._types import NULL, NullHandle, RunStateView

__all__ = ["HTTP_DURATION_BUCKETS", "STEP_DURATION_BUCKETS", "OtelBackend"]

SCOPE = "kycflow"
SCHEMA_URL = "https://opentelemetry.io/schemas/1.26.0"
# The semantic conventions' recommended boundaries for http.client.request.duration.
HTTP_DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10)
STEP_DURATION_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
_KNOWN_METHODS = frozenset(
    {"CONNECT", "DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT", "TRACE"}
)
_CACHE_LIMIT = 256
_RECHECK_SECONDS = 1.0
# Name, unit, description, up-down? of the instruments reported from kycflow's own counts.
_OBSERVED = (
    ("kycflow.runs", "{run}", "Wizard runs ended, by outcome.", False),
    ("kycflow.runs.active", "{run}", "Wizard runs in flight.", True),
    ("kycflow.retries", "{retry}", "Requests tried again, by action and reason.", False),
    ("kycflow.reconciliations", "{step}", "Steps committed by reconciliation.", False),
    ("kycflow.upload.size", "By", "Bytes of documents uploaded.", False),
    ("kycflow.watcher.polls", "{poll}", "Level watcher polls, by outcome.", False),
    ("kycflow.watcher.grants", "{grant}", "Levels granted, seen by the watcher.", False),
)

_Key = tuple[tuple[str, Any], ...]


class _Counts:
    """Process-wide counts keyed by attribute tuples, read by the asynchronous instruments."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.series: dict[str, dict[_Key, int]] = {}

    def add(self, name: str, key: _Key, amount: int = 1) -> None:
        with self.lock:
            series = self.series.setdefault(name, {})
            series[key] = series.get(key, 0) + amount

    def observer(self, name: str) -> Any:
        def observe(options: CallbackOptions) -> Iterable[Observation]:
            with self.lock:
                items = list(self.series.get(name, {}).items())
            return [Observation(value, dict(key)) for key, value in items]

        return observe


class OtelBackend:
    """Spans from the tracer provider, metrics from the meter provider (the globals when
    ``None``, resolved lazily by the API's proxies, so an SDK configured later is used)."""

    enabled = True

    def __init__(self, tracer_provider: Any = None, meter_provider: Any = None) -> None:
        self.tracer = trace.get_tracer(
            SCOPE, __version__, tracer_provider=tracer_provider, schema_url=SCHEMA_URL
        )
        meter = metrics.get_meter(
            SCOPE, __version__, meter_provider=meter_provider, schema_url=SCHEMA_URL
        )
        # An explicit provider settles it (a no-op one: metrics only, no span at all); the
        # global one is looked at until an SDK is set.
        self._tracing = tracer_provider is not None
        self._recheck_at = 0.0
        self._tracer_settled = tracer_provider is not None
        if isinstance(tracer_provider, trace.NoOpTracerProvider):
            self._tracing = False
        self._metering = meter_provider is not None
        self.counts = _Counts()
        self.count = self.counts.add
        self.http_duration = meter.create_histogram(
            "http.client.request.duration",
            unit="s",
            description="Duration of HTTP client requests.",
            explicit_bucket_boundaries_advisory=HTTP_DURATION_BUCKETS,
        )
        self.step_duration = meter.create_histogram(
            "kycflow.step.duration",
            unit="s",
            description="Duration of wizard steps, from choosing the files to the next step.",
            explicit_bucket_boundaries_advisory=STEP_DURATION_BUCKETS,
        )
        for name, unit, description, updown in _OBSERVED:
            create = (
                meter.create_observable_up_down_counter
                if updown
                else meter.create_observable_counter
            )
            create(name, [self.counts.observer(name)], unit=unit, description=description)
        self._requests: dict[tuple[str, str, str], Request] = {}

    def tracing(self) -> bool:
        """Whether spans can be recorded: not while the global provider is still the API's
        proxy with no SDK behind it (every span would be a no-op: none is made). Asked again
        at most every second until an SDK appears; once set, a global provider stays."""
        if not self._tracing:
            self._look_again()
        return self._tracing

    def _recording_now(self) -> bool:
        """Whether a span or a duration would be recorded now, asked while none was at the last
        look (the hooks then hand back ``NULL``: a request or step costs no handle). Only the
        clock until the next look is due: it is asked on every request."""
        if time.monotonic() < self._recheck_at:
            return False
        self._look_again()
        return self._tracing or self._metering

    def _look_again(self) -> None:
        """Look at the global providers not settled yet, at most once a second: an SDK may
        have been set since."""
        now = time.monotonic()
        if now < self._recheck_at:
            return
        self._recheck_at = now + _RECHECK_SECONDS
        if not self._tracer_settled:
            self._tracing = not isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)
        if not self._metering:
            # The API names no public type for its proxy meter provider (its instruments drop
            # every measurement until an SDK is set): a provider of any other type is an SDK's.
            self._metering = type(metrics.get_meter_provider()).__name__ != "_ProxyMeterProvider"

    # -- the hooks ------------------------------------------------------------------------

    def run_span(self, run_id: str, state: RunStateView) -> RunHandle:
        return RunHandle(self, run_id, state)

    def step_span(self, number: int) -> StepHandle | NullHandle:
        if not (self._tracing or self._metering) and not self._recording_now():
            return NULL
        return StepHandle(self, number)

    def upload_span(self, type_id: int, size: int | None) -> UploadHandle:
        # Always a handle, recording or not: it counts the bytes uploaded, like every count.
        return UploadHandle(self, type_id, size)

    def http_span(
        self, method: str, url: str, template: str, attempt: int
    ) -> HttpHandle | NullHandle:
        if not (self._tracing or self._metering) and not self._recording_now():
            return NULL
        end = url.find("/", url.find("//") + 2)
        origin = url if end < 0 else url[:end]
        request = self._requests.get((method, origin, template))
        if request is None:
            request = self._request(method, origin, template)
        return HttpHandle(self, request, attempt)

    def _request(self, method: str, origin: str, template: str) -> Request:
        parsed = yarl.URL(origin)
        known = method if method in _KNOWN_METHODS else "_OTHER"
        request = Request(known, parsed.host or "", parsed.port, template)
        if len(self._requests) >= _CACHE_LIMIT:
            self._requests.clear()
        self._requests[method, origin, template] = request
        return request

    def record_retry(self, action: str, reason: str) -> None:
        key = (("kycflow.retry.action", action), ("kycflow.retry.reason", reason))
        self.counts.add("kycflow.retries", key)

    def record_commit(self, reconciled: bool) -> None:
        if reconciled:
            self.counts.add("kycflow.reconciliations", ())

    def record_poll(self, outcome: str) -> None:
        self.counts.add("kycflow.watcher.polls", (("kycflow.watcher.outcome", outcome),))

    def record_grant(self, level: str | int | None) -> None:
        key = () if level is None else (("kycflow.level", str(level)),)
        self.counts.add("kycflow.watcher.grants", key)
