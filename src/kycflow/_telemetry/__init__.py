"""kycflow's OpenTelemetry instrumentation, behind a tiny interface the rest of the code calls.

The hooks (``run_span``, ``step_span``, ``upload_span``, ``http_span``, ``record_*``) hand back
shared no-op objects until a backend is resolved, on their first use: the OpenTelemetry one
when ``opentelemetry-api`` is importable (``pip install kycflow[otel]``), else the null one.
Without the package nothing is imported and each hook costs one call.

Spans and metrics carry identifiers and counts only (run id, step number, type id, file count,
method, URL template, host, status): never a token, password, code, email, document byte, stored
path or a full URL. See docs/observability.md for each span and metric.
"""

from __future__ import annotations

import os
from typing import Any

from ._types import NULL, CommittedStep, NullHandle, RunStateView

__all__ = [
    "NULL",
    "CommittedStep",
    "RunStateView",
    "configure_telemetry",
    "http_span",
    "record_commit",
    "record_grant",
    "record_poll",
    "record_retry",
    "run_span",
    "step_span",
    "telemetry_enabled",
    "upload_span",
]

DISABLE_ENV = "KYCFLOW_OTEL_DISABLED"
"""Set to ``1`` (or ``true``) to turn kycflow's instrumentation off even with the API installed."""


class _NullBackend:
    __slots__ = ()
    enabled = False

    def run_span(self, run_id: str, state: RunStateView) -> NullHandle:
        return NULL

    def step_span(self, number: int) -> NullHandle:
        return NULL

    def upload_span(self, type_id: int, size: int | None) -> NullHandle:
        return NULL

    def http_span(self, method: str, url: str, template: str, attempt: int) -> NullHandle:
        return NULL

    def record_retry(self, action: str, reason: str) -> None:
        return None

    def record_commit(self, reconciled: bool) -> None:
        return None

    def record_poll(self, outcome: str) -> None:
        return None

    def record_grant(self, level: str | int | None) -> None:
        return None


class _Lazy(_NullBackend):
    """The backend before its first use: resolves the real one, then forwards to it."""

    __slots__ = ()

    def run_span(self, run_id: str, state: RunStateView) -> Any:
        return _resolve().run_span(run_id, state)

    def step_span(self, number: int) -> Any:
        return _resolve().step_span(number)

    def upload_span(self, type_id: int, size: int | None) -> Any:
        return _resolve().upload_span(type_id, size)

    def http_span(self, method: str, url: str, template: str, attempt: int) -> Any:
        return _resolve().http_span(method, url, template, attempt)

    def record_retry(self, action: str, reason: str) -> None:
        _resolve().record_retry(action, reason)

    def record_commit(self, reconciled: bool) -> None:
        _resolve().record_commit(reconciled)

    def record_poll(self, outcome: str) -> None:
        _resolve().record_poll(outcome)

    def record_grant(self, level: str | int | None) -> None:
        _resolve().record_grant(level)


_backend: Any = _Lazy()


def _env_disabled() -> bool:
    return os.environ.get(DISABLE_ENV, "").strip().lower() in ("1", "true", "yes", "on")


# One backend per pair of providers: a meter provider keeps the instruments (and their
# callbacks) first created under a name, so a second backend's counts would go unreported.
_backends: dict[tuple[Any, Any], Any] = {}
_MAX_BACKENDS = 16


def _load(tracer_provider: Any = None, meter_provider: Any = None) -> Any:
    try:
        from ._otel import OtelBackend
    except ImportError:  # opentelemetry-api is not installed
        return _NullBackend()
    key = (tracer_provider, meter_provider)
    backend = _backends.get(key)
    if backend is None:
        if len(_backends) >= _MAX_BACKENDS:
            del _backends[next(iter(_backends))]
        backend = _backends[key] = OtelBackend(tracer_provider, meter_provider)
    return backend


def _resolve() -> Any:
    global _backend
    if isinstance(_backend, _Lazy):
        _backend = _NullBackend() if _env_disabled() else _load()
    return _backend


def configure_telemetry(
    *, enabled: bool = True, tracer_provider: Any = None, meter_provider: Any = None
) -> bool:
    """Turn kycflow's OpenTelemetry instrumentation on or off; returns whether it is on.

    By default kycflow instruments itself on first use when ``opentelemetry-api`` is installed,
    with the global tracer and meter providers (so an app may configure its SDK before or after
    importing kycflow), unless ``KYCFLOW_OTEL_DISABLED=1``. Call this to pass explicit
    ``tracer_provider``/``meter_provider`` objects, or ``enabled=False`` to turn it off. It is
    off, whatever is asked, when the API is not installed.
    """
    global _backend
    _backend = _load(tracer_provider, meter_provider) if enabled else _NullBackend()
    return bool(_backend.enabled)


def telemetry_enabled() -> bool:
    """Whether kycflow emits spans and metrics (resolving the default on first ask)."""
    return bool(_resolve().enabled)


# -- the hooks the rest of kycflow calls ------------------------------------------------------


def run_span(run_id: str, state: RunStateView) -> Any:
    """Context manager around one wizard run: the ``kycflow.wizard.run`` span, runs in flight,
    and, when it exits, the run's outcome (read from ``state``)."""
    return _backend.run_span(run_id, state)


def step_span(number: int) -> Any:
    """Context manager around one wizard step (the ``number``-th); its handle's
    ``committed(step, refused=...)`` records how the step ended."""
    return _backend.step_span(number)


def upload_span(type_id: int, size: int | None) -> Any:
    """Context manager around one upload call (of a file of ``size`` bytes, if known)."""
    return _backend.upload_span(type_id, size)


def http_span(method: str, url: str, template: str, attempt: int) -> Any:
    """Context manager around one HTTP request (``attempt`` counts from 1); its handle's
    ``status(code)`` records the reply's status. ``url`` gives only the host and port."""
    return _backend.http_span(method, url, template, attempt)


def record_retry(action: str, reason: str) -> None:
    """Count one retry of ``action`` (``"http"``, ``"upload"``, ``"submit"``) after ``reason``
    (a short, low-cardinality label such as an error class name or ``"status 503"``)."""
    _backend.record_retry(action, reason)


def record_commit(reconciled: bool) -> None:
    """Count a committed step whose commit was learned by reconciliation (``reconciled``)."""
    _backend.record_commit(reconciled)


def record_poll(outcome: str = "ok") -> None:
    """For the level watcher: count one poll of the verification level, by ``outcome``."""
    _backend.record_poll(outcome)


def record_grant(level: str | int | None = None) -> None:
    """For the level watcher: count one level granted (``level``: its name or id, if known)."""
    _backend.record_grant(level)
