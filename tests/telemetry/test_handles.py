"""The span handles' cheap paths keep the spans right: cached request attributes are never
changed by one attempt, a request's span is not current while an upload's is, and a span the
sampler drops costs its attributes but keeps its metrics."""

from __future__ import annotations

from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF
from opentelemetry.trace import SpanKind, StatusCode

from kycflow import _telemetry as telemetry

URL = "http://127.0.0.1:8080/api/v2/my/files"
OTHER = "https://kyc.example.test/api/v2/my/files"


def _points(reader: InMemoryMetricReader, name: str) -> dict[tuple[Any, ...], Any]:
    data = reader.get_metrics_data()
    if data is None:  # nothing recorded at all
        return {}
    return {
        tuple(sorted(point.attributes.items())): point
        for resource in data.resource_metrics
        for scope in resource.scope_metrics
        for metric in scope.metrics
        if metric.name == name
        for point in metric.data.data_points
    }


def test_a_resend_does_not_change_the_next_first_attempt(otel: Any) -> None:
    for attempt, code in ((1, 503), (2, 201), (1, 201)):
        with telemetry.http_span("POST", URL, "/v2/my/files", attempt) as http:
            http.status(code)
    first, resent, again = otel.named("POST /v2/my/files")
    assert resent.attributes["http.request.resend_count"] == 1
    for span in (first, again):
        assert "http.request.resend_count" not in span.attributes
    assert first.attributes["error.type"] == "503"
    assert first.status.status_code is StatusCode.ERROR
    assert "error.type" not in again.attributes
    assert again.status.status_code is StatusCode.UNSET
    points = _points(otel.reader, "http.client.request.duration")
    ok = [p for k, p in points.items() if ("http.response.status_code", 201) in k]
    assert [p.count for p in ok] == [2]  # one series, both 201s
    assert all(("error.type", "503") not in k for k, p in points.items() if p in ok)


def test_each_origin_and_template_has_its_own_attributes(otel: Any) -> None:
    for url, template in ((URL, "/v2/my/files"), (OTHER, "/v2/my/files"), (URL, "/v2/me")):
        with telemetry.http_span("GET", url, template, 1) as http:
            http.status(200)
    seen = [
        (s.name, s.attributes["server.address"], s.attributes.get("server.port"))
        for s in otel.spans()
    ]
    assert seen == [
        ("GET /v2/my/files", "127.0.0.1", 8080),
        ("GET /v2/my/files", "kyc.example.test", 443),
        ("GET /v2/me", "127.0.0.1", 8080),
    ]


def test_an_unknown_method_is_other(otel: Any) -> None:
    with telemetry.http_span("PROPFIND", URL, "/v2/my/files", 1) as http:
        http.status(200)
    [span] = otel.spans()
    assert span.name == "_OTHER /v2/my/files"
    assert span.attributes["http.request.method"] == "_OTHER"


def test_requests_nest_under_an_upload_and_nothing_under_a_request(otel: Any) -> None:
    with (
        otel.tracer.start_as_current_span("app"),
        telemetry.upload_span(2, 10),
        telemetry.http_span("POST", URL, "/v2/my/files", 1) as http,
    ):
        inner = otel.tracer.start_span("inside the request")
        inner.end()
        http.status(201)
    by_name = {s.name: s for s in otel.spans()}
    upload, request = by_name["kycflow.wizard.upload"], by_name["POST /v2/my/files"]
    assert request.kind is SpanKind.CLIENT
    assert request.parent.span_id == upload.context.span_id
    assert by_name["inside the request"].parent.span_id == upload.context.span_id
    assert upload.parent.span_id == by_name["app"].context.span_id


def test_a_failed_upload_and_a_cancelled_one(otel: Any) -> None:
    with pytest.raises(OSError, match="disk"), telemetry.upload_span(3, 10):
        raise OSError("disk")
    with pytest.raises(KeyboardInterrupt), telemetry.upload_span(4, 20):
        raise KeyboardInterrupt
    failed, cancelled = otel.named("kycflow.wizard.upload")
    assert failed.attributes["error.type"] == "OSError"
    assert failed.status.status_code is StatusCode.ERROR
    assert "error.type" not in cancelled.attributes
    assert cancelled.status.status_code is StatusCode.UNSET
    assert _points(otel.reader, "kycflow.upload.size") == {}  # neither stored a byte


def test_one_upload_handle_entered_per_attempt_makes_a_span_each(otel: Any) -> None:
    handle = telemetry.upload_span(2, 10)  # what the runner hands its retry loop
    with otel.tracer.start_as_current_span("step") as step:
        with pytest.raises(OSError, match="reset"), handle:
            raise OSError("reset")
        assert trace.get_current_span() is step  # the failed attempt's span is not current
        with handle:
            assert trace.get_current_span() is not step
    failed, stored = otel.named("kycflow.wizard.upload")
    assert failed.context.span_id != stored.context.span_id
    assert failed.attributes["error.type"] == "OSError"
    assert "error.type" not in stored.attributes
    assert stored.parent.span_id == failed.parent.span_id  # both under the step
    assert failed.end_time is not None
    assert stored.end_time is not None
    [size] = _points(otel.reader, "kycflow.upload.size").values()
    assert size.value == 10  # counted once, by the attempt that stored the file


def test_unsampled_spans_record_their_metrics_and_export_nothing(make_otel: Any) -> None:
    otel = make_otel(ALWAYS_OFF)
    with telemetry.step_span(1) as step:
        with telemetry.http_span("POST", URL, "/v2/my/verifications", 1) as http:
            http.status(500)
        step.refused(2)
    assert otel.spans() == []
    [http_point] = _points(otel.reader, "http.client.request.duration").values()
    assert http_point.attributes["error.type"] == "500"
    [step_point] = _points(otel.reader, "kycflow.step.duration")
    assert step_point == (("kycflow.step.outcome", "refused"),)


def test_metrics_only_makes_no_span_and_hides_no_app_span(make_otel: Any) -> None:
    otel = make_otel(kycflow_tracer=trace.NoOpTracerProvider())
    with otel.tracer.start_as_current_span("app") as app, telemetry.step_span(1) as step:
        with telemetry.http_span("GET", URL, "/v2/my/files", 1) as http:
            http.status(200)
        assert trace.get_current_span() is app  # the app's own spans still nest under it
        step.refused(2)
    assert [s.name for s in otel.spans()] == ["app"]
    assert len(_points(otel.reader, "http.client.request.duration")) == 1
    assert len(_points(otel.reader, "kycflow.step.duration")) == 1
