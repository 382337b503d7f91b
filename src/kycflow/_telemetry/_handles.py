"""The span handles of the OpenTelemetry backend: one ``with`` block per run, step, upload and
HTTP attempt. The start/end plumbing (start, make current, set attributes once, status, end) is
``_Handle``'s; each kind adds only what it records."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Protocol

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from ._types import Block

if TYPE_CHECKING:
    from opentelemetry.metrics import Histogram

    from ._types import CommittedStep, RunStateView

__all__ = ["Backend", "HttpHandle", "Request", "RunHandle", "StepHandle", "UploadHandle"]

Attributes = dict[str, Any]
_CACHE_LIMIT = 64


class Backend(Protocol):
    """What the handles use of ``OtelBackend``."""

    tracer: trace.Tracer
    http_duration: Histogram
    step_duration: Histogram

    def tracing(self) -> bool: ...

    def count(self, name: str, key: tuple[tuple[str, Any], ...], amount: int = 1) -> None: ...


def error_type(exc_type: type[BaseException]) -> str:
    """``error.type`` of an exception: its qualified class name."""
    module = exc_type.__module__
    name = exc_type.__qualname__
    return name if module == "builtins" else f"{module}.{name}"


def outcome_of(exc_type: type[BaseException] | None, ok: str) -> tuple[str, str | None]:
    """(outcome, ``error.type`` or None) of a block that ended with ``exc_type``: ``ok``, then
    ``"cancelled"`` (not an error of kycflow's), else ``"failed"``."""
    if exc_type is None:
        return ok, None
    if not issubclass(exc_type, Exception):  # cancelled (or interrupted)
        return "cancelled", None
    return "failed", error_type(exc_type)


class _Handle(Block):
    """A span around a ``with`` block: an INTERNAL one is current in it (what runs inside
    nests under it), a CLIENT one is not; no span while no SDK records spans."""

    __slots__ = ("backend", "span", "token")
    # Subclasses set all three in their own __init__ (no super() call: these are made per
    # request, and every call counts next to the SDK's own work).
    backend: Backend
    span: Any
    token: Any

    def _open(self, name: str, attributes: Attributes, kind: SpanKind = SpanKind.INTERNAL) -> None:
        backend = self.backend
        if backend.tracing():
            self.span = span = backend.tracer.start_span(name, kind=kind, attributes=attributes)
            if kind is SpanKind.INTERNAL:
                self.token = otel_context.attach(trace.set_span_in_context(span))

    def _live(self) -> Any:
        """The span, if it records (else None: nothing to set on it)."""
        span = self.span
        return span if span is not None and span.is_recording() else None

    def _close(self, error: str | None, attributes: Attributes | None = None) -> None:
        token, span = self.token, self.span
        self.token = self.span = None  # an upload's handle is entered again by its next attempt
        if token is not None:
            otel_context.detach(token)
        if span is None:
            return
        if attributes is not None and span.is_recording():
            if error is not None:
                attributes["error.type"] = error
                span.set_status(Status(StatusCode.ERROR))
            span.set_attributes(attributes)
        span.end()


class RunHandle(_Handle):
    __slots__ = ("run_id", "state")

    def __init__(self, backend: Backend, run_id: str, state: RunStateView) -> None:
        self.backend, self.span, self.token = backend, None, None
        self.run_id = run_id
        self.state = state

    def __enter__(self) -> RunHandle:
        self.backend.count("kycflow.runs.active", ())
        self._open("kycflow.wizard.run", {"kycflow.run.id": self.run_id})
        return self

    def close(self, exc_type: type[BaseException] | None) -> None:
        outcome, error = outcome_of(exc_type, "completed")
        count = self.backend.count
        count("kycflow.runs.active", (), -1)
        key: tuple[tuple[str, str], ...] = (("kycflow.run.outcome", outcome),)
        count("kycflow.runs", key if error is None else (*key, ("error.type", error)))
        attributes = None
        if self._live() is not None:
            state = self.state
            attributes = {
                "kycflow.run.outcome": outcome,
                "kycflow.run.steps": len(state.cp.steps),
                "kycflow.run.retries": state.retries,
                "kycflow.run.resumed": state.resumed,
            }
        self._close(error, attributes)


# kycflow.step.duration's attributes by (outcome, error.type): few, and shared by every step.
_STEP_OUTCOMES: dict[tuple[str, str | None], Attributes] = {}


class StepHandle(_Handle):
    __slots__ = ("attributes", "number", "refusal", "started")

    def __init__(self, backend: Backend, number: int) -> None:
        self.backend, self.span, self.token = backend, None, None
        self.number = number
        self.attributes: Attributes = {}
        self.refusal = False
        self.started = 0.0

    def __enter__(self) -> StepHandle:
        self._open("kycflow.wizard.step", {"kycflow.step.number": self.number})
        self.started = time.perf_counter()
        return self

    def committed(self, step: CommittedStep, *, refused: bool) -> None:
        self.refusal = refused
        self.attributes = {
            "kycflow.document_type.id": step.type_id,
            "kycflow.step.file_count": len(step.files),
            "kycflow.step.reconciled": step.reconciled,
            "kycflow.step.refused": refused,
        }

    def refused(self, type_id: int) -> None:
        self.refusal = True
        self.attributes = {"kycflow.document_type.id": type_id, "kycflow.step.refused": True}

    def close(self, exc_type: type[BaseException] | None) -> None:
        elapsed = time.perf_counter() - self.started
        outcome, error = outcome_of(exc_type, "refused" if self.refusal else "committed")
        metric = _STEP_OUTCOMES.get((outcome, error))
        if metric is None:
            if len(_STEP_OUTCOMES) >= _CACHE_LIMIT:
                _STEP_OUTCOMES.clear()
            metric = {"kycflow.step.outcome": outcome}
            if error is not None:
                metric["error.type"] = error
            _STEP_OUTCOMES[outcome, error] = metric
        self.backend.step_duration.record(elapsed, metric)
        attributes = self.attributes
        attributes["kycflow.step.outcome"] = outcome
        self._close(error, attributes)


class UploadHandle(_Handle):
    __slots__ = ("size", "type_id")

    def __init__(self, backend: Backend, type_id: int, size: int | None) -> None:
        self.backend, self.span, self.token = backend, None, None
        self.type_id = type_id
        self.size = size

    def __enter__(self) -> UploadHandle:
        attributes: Attributes = {"kycflow.document_type.id": self.type_id}
        if self.size is not None:
            attributes["kycflow.upload.size"] = self.size
        self._open("kycflow.wizard.upload", attributes)
        return self

    def close(self, exc_type: type[BaseException] | None) -> None:
        _, error = outcome_of(exc_type, "uploaded")
        if exc_type is None and self.size:
            self.backend.count("kycflow.upload.size", (), self.size)
        self._close(error, None if error is None else {})


class Request:
    """What every attempt of one (method, origin, template) shares: the span's name and start
    attributes, and ``http.client.request.duration``'s attributes per status and error."""

    __slots__ = ("attributes", "name", "outcomes")

    def __init__(self, method: str, host: str, port: int | None, template: str) -> None:
        self.name = f"{method} {template}"
        self.attributes: Attributes = {
            "http.request.method": method,
            "server.address": host,
            "url.template": template,
        }
        if port is not None:
            self.attributes["server.port"] = port
        self.outcomes: dict[tuple[int, str | None], Attributes] = {}

    def metric_attributes(self, code: int, error: str | None) -> Attributes:
        found = self.outcomes.get((code, error))
        if found is None:
            if len(self.outcomes) >= _CACHE_LIMIT:
                self.outcomes.clear()
            found = dict(self.attributes)
            if code:
                found["http.response.status_code"] = code
            if error is not None:
                found["error.type"] = error
            self.outcomes[code, error] = found
        return found


class HttpHandle(_Handle):
    """One HTTP attempt: a CLIENT span, never current (nothing nests under it), and its
    ``http.client.request.duration`` measurement."""

    __slots__ = ("attempt", "code", "request", "started")

    def __init__(self, backend: Backend, request: Request, attempt: int) -> None:
        self.backend, self.span, self.token = backend, None, None
        self.request = request
        self.attempt = attempt
        self.code = 0
        self.started = 0.0

    def __enter__(self) -> HttpHandle:
        request = self.request
        attributes = request.attributes
        if self.attempt > 1:
            attributes = {**attributes, "http.request.resend_count": self.attempt - 1}
        self._open(request.name, attributes, SpanKind.CLIENT)
        self.started = time.perf_counter()
        return self

    def status(self, code: int) -> None:
        self.code = code

    def close(self, exc_type: type[BaseException] | None) -> None:
        elapsed = time.perf_counter() - self.started
        code = self.code
        if exc_type is not None:
            error: str | None = error_type(exc_type)
        else:
            error = str(code) if code >= 400 else None
        request = self.request
        metric = request.outcomes.get((code, error)) or request.metric_attributes(code, error)
        self.backend.http_duration.record(elapsed, metric)
        attributes: Attributes | None = None
        if code:
            attributes = {"http.response.status_code": code}
        elif error is not None:
            attributes = {}
        self._close(error, attributes)
