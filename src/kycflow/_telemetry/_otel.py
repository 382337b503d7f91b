"""The OpenTelemetry backend of ``kycflow._telemetry`` (imported only when the API is installed).

Spans follow the HTTP client semantic conventions for requests. Counts (runs, retries,
reconciliations, runs in flight, uploaded bytes, watcher polls and grants) are kept as plain
integers and reported through asynchronous instruments when a reader collects: an event costs
a dict update, not an SDK measurement. Durations are histograms, recorded as they happen.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import yarl
from opentelemetry import context as otel_context
from opentelemetry import metrics, trace
from opentelemetry.metrics import CallbackOptions, Observation
from opentelemetry.trace import SpanKind, Status, StatusCode

from .._version import __version__

if TYPE_CHECKING:
    from types import TracebackType

    from ._types import CommittedStep, RunStateView

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


def _error_type(exc_type: type[BaseException]) -> str:
    module = exc_type.__module__
    name = exc_type.__qualname__
    return name if module == "builtins" else f"{module}.{name}"


class _Counts:
    """Process-wide counts keyed by attribute tuples, read by the asynchronous instruments."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.series: dict[str, dict[tuple[tuple[str, Any], ...], int]] = {}

    def add(self, name: str, key: tuple[tuple[str, Any], ...], amount: int = 1) -> None:
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
        self._tracing = tracer_provider is not None
        self._recheck_at = 0.0
        self.counts = _Counts()
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
        observed = (
            ("kycflow.runs", "{run}", "Wizard runs ended, by outcome.", False),
            ("kycflow.runs.active", "{run}", "Wizard runs in flight.", True),
            ("kycflow.retries", "{retry}", "Requests tried again, by action and reason.", False),
            ("kycflow.reconciliations", "{step}", "Steps committed by reconciliation.", False),
            ("kycflow.upload.size", "By", "Bytes of documents uploaded.", False),
            ("kycflow.watcher.polls", "{poll}", "Level watcher polls, by outcome.", False),
            ("kycflow.watcher.grants", "{grant}", "Levels granted, seen by the watcher.", False),
        )
        for name, unit, description, updown in observed:
            create = (
                meter.create_observable_up_down_counter
                if updown
                else meter.create_observable_counter
            )
            create(name, [self.counts.observer(name)], unit=unit, description=description)
        self._servers: dict[str, tuple[str, int | None]] = {}

    # -- spans ----------------------------------------------------------------------------

    def tracing(self) -> bool:
        """Whether spans can be recorded: not while the global provider is still the API's
        proxy with no SDK behind it (every span would be a no-op: none is made). Asked again
        at most every second until an SDK appears; once set, a global provider stays."""
        if self._tracing:
            return True
        now = time.monotonic()
        if now < self._recheck_at:
            return False
        self._recheck_at = now + _RECHECK_SECONDS
        self._tracing = not isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)
        return self._tracing

    def run_span(self, run_id: str, state: RunStateView) -> _RunSpan:
        return _RunSpan(self, run_id, state)

    def step_span(self, number: int) -> _StepSpan:
        return _StepSpan(self, number)

    def upload_span(self, type_id: int, size: int | None) -> _UploadSpan:
        return _UploadSpan(self, type_id, size)

    def http_span(self, method: str, url: str, template: str, attempt: int) -> _HttpSpan:
        return _HttpSpan(self, method, self.server_of(url), template, attempt)

    def server_of(self, url: str) -> tuple[str, int | None]:
        """``server.address`` and ``server.port`` of an absolute URL (cached per origin)."""
        end = url.find("/", url.find("//") + 2)
        origin = url if end < 0 else url[:end]
        found = self._servers.get(origin)
        if found is None:
            parsed = yarl.URL(origin)
            found = (parsed.host or "", parsed.port)
            if len(self._servers) >= _CACHE_LIMIT:
                self._servers.clear()
            self._servers[origin] = found
        return found

    # -- counts ---------------------------------------------------------------------------

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


class _CurrentSpan:
    """A span made current for the ``with`` body, so that what runs inside nests under it."""

    __slots__ = ("backend", "span", "token")

    def __init__(self, backend: OtelBackend) -> None:
        self.backend = backend

    def _start(self, name: str, attributes: dict[str, Any]) -> None:
        if not self.backend.tracing():
            self.token = None
            return
        self.span = self.backend.tracer.start_span(name, attributes=attributes)
        self.token = otel_context.attach(trace.set_span_in_context(self.span))

    def _end(self, exc_type: type[BaseException] | None, attributes: dict[str, Any]) -> None:
        if self.token is None:
            return
        otel_context.detach(self.token)
        span = self.span
        if span.is_recording():
            if exc_type is not None:
                attributes["error.type"] = _error_type(exc_type)
                span.set_status(Status(StatusCode.ERROR, exc_type.__name__))
            span.set_attributes(attributes)
        span.end()


class _RunSpan(_CurrentSpan):
    __slots__ = ("run_id", "state")

    def __init__(self, backend: OtelBackend, run_id: str, state: RunStateView) -> None:
        super().__init__(backend)
        self.run_id = run_id
        self.state = state

    def __enter__(self) -> _RunSpan:
        self.backend.counts.add("kycflow.runs.active", ())
        self._start("kycflow.wizard.run", {"kycflow.run.id": self.run_id})
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        counts = self.backend.counts
        counts.add("kycflow.runs.active", (), -1)
        key: tuple[tuple[str, str], ...]
        if exc_type is None:
            outcome, key = "completed", (("kycflow.run.outcome", "completed"),)
        elif not issubclass(exc_type, Exception):  # cancelled (or interrupted)
            outcome, key = "cancelled", (("kycflow.run.outcome", "cancelled"),)
        else:
            outcome = "failed"
            key = (("kycflow.run.outcome", "failed"), ("error.type", _error_type(exc_type)))
        counts.add("kycflow.runs", key)
        state = self.state
        self._end(
            exc_type if outcome == "failed" else None,
            {
                "kycflow.run.outcome": outcome,
                "kycflow.run.steps": len(state.cp.steps),
                "kycflow.run.retries": state.retries,
                "kycflow.run.resumed": state.resumed,
            },
        )


class _StepSpan(_CurrentSpan):
    __slots__ = ("attributes", "number", "started")

    def __init__(self, backend: OtelBackend, number: int) -> None:
        super().__init__(backend)
        self.number = number
        self.attributes: dict[str, Any] = {}
        self.started = 0.0

    def __enter__(self) -> _StepSpan:
        self._start("kycflow.wizard.step", {"kycflow.step.number": self.number})
        self.started = time.perf_counter()
        return self

    def committed(self, step: CommittedStep, *, refused: bool) -> None:
        self.attributes = {
            "kycflow.document_type.id": step.type_id,
            "kycflow.step.file_count": len(step.files),
            "kycflow.step.reconciled": step.reconciled,
            "kycflow.step.refused": refused,
        }

    def refused(self, type_id: int) -> None:
        self.attributes = {"kycflow.document_type.id": type_id, "kycflow.step.refused": True}

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        elapsed = time.perf_counter() - self.started
        attributes = self.attributes
        if exc_type is not None and not issubclass(exc_type, Exception):
            outcome: dict[str, Any] = {"kycflow.step.outcome": "cancelled"}
            exc_type = None  # not an error of the step's
        elif exc_type is not None:
            outcome = {"kycflow.step.outcome": "failed", "error.type": _error_type(exc_type)}
        elif attributes.get("kycflow.step.refused"):
            outcome = {"kycflow.step.outcome": "refused"}
        else:
            outcome = {"kycflow.step.outcome": "committed"}
        self.backend.step_duration.record(elapsed, outcome)
        attributes["kycflow.step.outcome"] = outcome["kycflow.step.outcome"]
        self._end(exc_type, attributes)


class _UploadSpan(_CurrentSpan):
    __slots__ = ("size", "type_id")

    def __init__(self, backend: OtelBackend, type_id: int, size: int | None) -> None:
        super().__init__(backend)
        self.type_id = type_id
        self.size = size

    def __enter__(self) -> _UploadSpan:
        attributes: dict[str, Any] = {"kycflow.document_type.id": self.type_id}
        if self.size is not None:
            attributes["kycflow.upload.size"] = self.size
        self._start("kycflow.wizard.upload", attributes)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None and self.size:
            self.backend.counts.add("kycflow.upload.size", (), self.size)
        self._end(exc_type, {})


class _HttpSpan:
    """One HTTP request: a CLIENT span (not made current: nothing nests under it) and its
    ``http.client.request.duration`` measurement."""

    __slots__ = ("attributes", "backend", "code", "span", "started")

    def __init__(
        self,
        backend: OtelBackend,
        method: str,
        server: tuple[str, int | None],
        template: str,
        attempt: int,
    ) -> None:
        self.backend = backend
        known = method if method in _KNOWN_METHODS else "_OTHER"
        attributes: dict[str, Any] = {
            "http.request.method": known,
            "server.address": server[0],
            "url.template": template,
        }
        if server[1] is not None:
            attributes["server.port"] = server[1]
        self.attributes = attributes
        if backend.tracing():
            span_attributes = dict(attributes)
            if attempt > 1:
                span_attributes["http.request.resend_count"] = attempt - 1
            self.span = backend.tracer.start_span(
                f"{known} {template}", kind=SpanKind.CLIENT, attributes=span_attributes
            )
        else:
            self.span = trace.INVALID_SPAN
        self.code = 0
        self.started = 0.0

    def __enter__(self) -> _HttpSpan:
        self.started = time.perf_counter()
        return self

    def status(self, code: int) -> None:
        self.code = code

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        elapsed = time.perf_counter() - self.started
        attributes = self.attributes
        code = self.code
        if code:
            attributes["http.response.status_code"] = code
        error = None
        if exc_type is not None:
            error = _error_type(exc_type)
        elif code >= 400:
            error = str(code)
        if error is not None:
            attributes["error.type"] = error
        self.backend.http_duration.record(elapsed, attributes)
        span = self.span
        if span.is_recording():
            if code:
                span.set_attribute("http.response.status_code", code)
            if error is not None:
                span.set_attribute("error.type", error)
                span.set_status(Status(StatusCode.ERROR))
        span.end()
