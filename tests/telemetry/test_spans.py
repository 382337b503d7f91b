"""A run with an SDK configured: its spans nest under the app's span, HTTP spans follow the
semantic conventions, and the metrics count what happened."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from opentelemetry.trace import SpanKind, StatusCode

import kycflow
from kycflow.testing import Faults, Sandbox

PASSPORT = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(256))
SELFIE = PASSPORT + b"selfie"
ADDRESS = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n" + b"address"
FILES = {
    2: ("passport.jpg", PASSPORT),
    3: ("selfie.jpg", SELFIE),
    4: ("proof_of_address.pdf", ADDRESS),
}
HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10)


def _client(sb: Sandbox) -> kycflow.Client:
    return kycflow.Client(sb.base_url, max_retries=2, initial_backoff=0.01, max_backoff=0.02)


def _points(otel: Any, name: str) -> dict[tuple[tuple[str, Any], ...], Any]:
    return {tuple(sorted(p.attributes.items())): p for p in otel.metrics().get(name, [])}


async def test_spans_nest_under_the_callers_span(otel: Any, kycflow_sandbox: Sandbox) -> None:
    user = kycflow_sandbox.create_user("nest@sandbox.test")
    kycflow_sandbox.set_faults(
        Faults(seed=1)
        .fail_next("wizard", "5xx", status=503)
        .fail_next("submit", "reset_after")
        .fail_next("upload", "reset_before")
    )
    async with _client(kycflow_sandbox) as client:
        view = client.with_auth(kycflow.BearerToken(user.access_token))
        runner = kycflow.WizardRunner(view, kycflow.MemoryProvider(FILES), run_id="run-nest")
        with otel.tracer.start_as_current_span("app.request") as app_span:
            result = await runner.run()
    assert result.done

    spans = otel.spans()
    by_id = {s.context.span_id: s for s in spans}
    [run] = otel.named("kycflow.wizard.run")
    assert run.parent is not None
    assert run.parent.span_id == app_span.get_span_context().span_id
    assert run.context.trace_id == app_span.get_span_context().trace_id
    assert all(s.context.trace_id == run.context.trace_id for s in spans)
    assert run.attributes["kycflow.run.id"] == "run-nest"
    assert run.attributes["kycflow.run.outcome"] == "completed"
    assert run.attributes["kycflow.run.steps"] == 3
    assert run.attributes["kycflow.run.retries"] == result.retries
    assert run.attributes["kycflow.run.resumed"] is False

    steps = otel.named("kycflow.wizard.step")
    assert [s.attributes["kycflow.step.number"] for s in steps] == [1, 2, 3]
    assert all(s.parent is not None and s.parent.span_id == run.context.span_id for s in steps)
    assert [s.attributes["kycflow.document_type.id"] for s in steps] == [
        s.type_id for s in result.steps
    ]
    assert [s.attributes["kycflow.step.reconciled"] for s in steps] == [
        s.reconciled for s in result.steps
    ]
    assert any(s.attributes["kycflow.step.reconciled"] for s in steps)
    assert all(s.attributes["kycflow.step.file_count"] == 1 for s in steps)
    assert all(s.attributes["kycflow.step.refused"] is False for s in steps)

    uploads = otel.named("kycflow.wizard.upload")
    step_ids = {s.context.span_id for s in steps}
    assert len(uploads) >= 3
    assert all(u.parent is not None and u.parent.span_id in step_ids for u in uploads)
    assert {u.attributes["kycflow.upload.size"] for u in uploads} >= {
        len(d) for _, d in FILES.values()
    }

    http = [s for s in spans if s.kind is SpanKind.CLIENT]
    assert {s.name for s in http} == {
        "GET /v2/my/verifications/wizard",
        "POST /v2/my/files",
        "POST /v2/my/verifications",
    }
    for span in http:
        attrs = span.attributes
        assert attrs["http.request.method"] == span.name.split()[0]
        assert attrs["url.template"] == span.name.split()[1]
        assert attrs["server.address"] == "127.0.0.1"
        assert attrs["server.port"] == int(kycflow_sandbox.base_url.split(":")[2].split("/")[0])
        assert not any(key.startswith("url.full") or key == "url.query" for key in attrs)
        parent = by_id[span.parent.span_id] if span.parent else None
        assert parent is not None
        assert parent.name.startswith("kycflow.wizard.")
    # Uploads nest under their upload span; the first wizard read under the run.
    assert all(
        by_id[s.parent.span_id].name == "kycflow.wizard.upload"  # type: ignore[union-attr]
        for s in http
        if s.name == "POST /v2/my/files"
    )
    # The 503 and its resend.
    failed = [s for s in http if s.attributes.get("http.response.status_code") == 503]
    assert len(failed) == 1
    assert failed[0].attributes["error.type"] == "503"
    assert failed[0].status.status_code is StatusCode.ERROR
    assert "http.request.resend_count" not in failed[0].attributes
    resent = [s for s in http if s.attributes.get("http.request.resend_count") == 1]
    assert any(s.name == "GET /v2/my/verifications/wizard" for s in resent)
    # The connection reset before the upload's reply: no status, the exception's type.
    broken = [s for s in http if "http.response.status_code" not in s.attributes]
    assert broken
    assert all("." in s.attributes["error.type"] for s in broken)  # a qualified class name

    metrics = otel.metrics()
    duration = metrics["http.client.request.duration"]
    assert tuple(duration[0].explicit_bounds) == HTTP_BUCKETS
    assert sum(p.count for p in duration) == len(http)
    ok = _points(otel, "http.client.request.duration")[
        (
            ("http.request.method", "POST"),
            ("http.response.status_code", 200),
            ("server.address", "127.0.0.1"),
            ("server.port", http[0].attributes["server.port"]),
            ("url.template", "/v2/my/verifications"),
        )
    ]
    assert ok.count >= 2
    assert _points(otel, "kycflow.runs")[(("kycflow.run.outcome", "completed"),)].value == 1
    assert _points(otel, "kycflow.runs.active")[()].value == 0
    assert _points(otel, "kycflow.reconciliations")[()].value == 1
    assert _points(otel, "kycflow.upload.size")[()].value == sum(len(d) for _, d in FILES.values())
    retries = _points(otel, "kycflow.retries")
    assert (
        retries[(("kycflow.retry.action", "http"), ("kycflow.retry.reason", "status 503"))].value
        == 1
    )
    assert sum(p.value for k, p in retries.items() if ("kycflow.retry.action", "upload") in k) >= 1
    steps_hist = _points(otel, "kycflow.step.duration")[(("kycflow.step.outcome", "committed"),)]
    assert steps_hist.count == 3


async def test_failed_run_records_its_error_type(otel: Any, kycflow_sandbox: Sandbox) -> None:
    user = kycflow_sandbox.create_user("fail@sandbox.test")
    async with _client(kycflow_sandbox) as client:
        view = client.with_auth(kycflow.BearerToken(user.access_token))
        only_passport = kycflow.MemoryProvider({2: FILES[2]})
        with pytest.raises(kycflow.MissingDocumentError):
            await kycflow.WizardRunner(view, only_passport).run()
    [run] = otel.named("kycflow.wizard.run")
    assert run.attributes["kycflow.run.outcome"] == "failed"
    assert run.attributes["error.type"] == "kycflow.errors.MissingDocumentError"
    assert run.attributes["kycflow.run.steps"] == 1
    assert run.status.status_code is StatusCode.ERROR
    [first, second] = otel.named("kycflow.wizard.step")
    assert second.attributes["kycflow.step.outcome"] == "failed"
    assert first.attributes["kycflow.step.outcome"] == "committed"
    key = (("error.type", "kycflow.errors.MissingDocumentError"), ("kycflow.run.outcome", "failed"))
    assert _points(otel, "kycflow.runs")[key].value == 1
    assert _points(otel, "kycflow.runs.active")[()].value == 0


async def test_an_unauthorized_reply_is_an_error_span(otel: Any, kycflow_sandbox: Sandbox) -> None:
    async with _client(kycflow_sandbox) as client:
        with pytest.raises(kycflow.AuthenticationError):
            await client.with_auth(kycflow.BearerToken("not-a-token")).wizard.start()
    [span] = [s for s in otel.spans() if s.kind is SpanKind.CLIENT]
    assert span.attributes["http.response.status_code"] == 401
    assert span.attributes["error.type"] == "401"
    assert span.parent is None  # no run, no app span: a root span of its own


def test_watcher_hooks_count_polls_and_grants(otel: Any) -> None:
    from kycflow import _telemetry as telemetry

    telemetry.record_poll("ok")
    telemetry.record_poll("ok")
    telemetry.record_poll("error")
    telemetry.record_grant("full")
    polls = _points(otel, "kycflow.watcher.polls")
    assert polls[(("kycflow.watcher.outcome", "ok"),)].value == 2
    assert polls[(("kycflow.watcher.outcome", "error"),)].value == 1
    assert _points(otel, "kycflow.watcher.grants")[(("kycflow.level", "full"),)].value == 1


async def test_a_cancelled_run_is_counted_as_cancelled(otel: Any, kycflow_sandbox: Sandbox) -> None:
    user = kycflow_sandbox.create_user("cancel@sandbox.test")
    asked = asyncio.Event()

    async def never(doc_type: kycflow.DocumentType) -> list[kycflow.Document] | None:
        asked.set()
        await asyncio.Event().wait()  # the provider hangs: the app gives up on the run
        return None

    async with _client(kycflow_sandbox) as client:
        view = client.with_auth(kycflow.BearerToken(user.access_token))
        task = asyncio.create_task(
            kycflow.WizardRunner(view, kycflow.CallableProvider(never)).run()
        )
        await asyncio.wait_for(asked.wait(), 5)
        assert _points(otel, "kycflow.runs.active")[()].value == 1
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    [run] = otel.named("kycflow.wizard.run")
    assert run.attributes["kycflow.run.outcome"] == "cancelled"
    assert "error.type" not in run.attributes
    [step] = otel.named("kycflow.wizard.step")
    assert step.attributes["kycflow.step.outcome"] == "cancelled"
    assert step.status.status_code is not StatusCode.ERROR
    assert _points(otel, "kycflow.runs")[(("kycflow.run.outcome", "cancelled"),)].value == 1
    assert _points(otel, "kycflow.runs.active")[()].value == 0


def test_configuring_the_same_providers_again_keeps_counting(otel: Any) -> None:
    from kycflow import _telemetry as telemetry

    telemetry.record_poll("ok")
    # The app configures kycflow again with the very same providers: counting goes on.
    assert telemetry.configure_telemetry(
        tracer_provider=otel.tracer_provider, meter_provider=otel.meter_provider
    )
    telemetry.record_poll("ok")
    assert _points(otel, "kycflow.watcher.polls")[(("kycflow.watcher.outcome", "ok"),)].value == 2
