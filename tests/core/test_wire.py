"""Reply decoding: errors of every shape, HTML, invalid JSON, envelopes. Pure, no HTTP."""

from __future__ import annotations

from typing import Any

import pytest

from kycflow import errors as e
from kycflow._http.wire import (
    check_base_url,
    decode_json,
    error_from_response,
    filter_params,
    is_loopback_host,
    page_from_payload,
    parse_model,
    path_segment,
    upload_path_from_payload,
    verification_from_payload,
    wizard_step_from_payload,
)
from kycflow.models import TokenPair, Verification


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, e.BadRequestError),
        (401, e.AuthenticationError),
        (403, e.PermissionDeniedError),
        (404, e.NotFoundError),
        (409, e.ConflictError),
        (413, e.APIStatusError),
        (422, e.BadRequestError),
        (429, e.RateLimitError),
        (500, e.ServerError),
        (503, e.ServerError),
    ],
)
def test_status_classes(status: int, cls: type[e.APIStatusError]) -> None:
    err = error_from_response(status, {}, b"")
    assert type(err) is cls
    assert err.status == status


def test_error_body_message_details_request_id() -> None:
    body = b'{"error": {"message": "Field is invalid", "details": [{"issue": "email"}]}}'
    err = error_from_response(
        400, {"X-Request-Id": "abc"}, body, method="POST", path="/v2/my/verifications"
    )
    assert err.message == "Field is invalid"
    assert err.details == [{"issue": "email"}]
    assert err.request_id == "abc"
    assert "abc" in str(err)
    assert "400" in str(err)
    assert "POST /v2/my/verifications" in str(err)


def test_request_id_alternative_header() -> None:
    assert error_from_response(500, {"Request-Id": "r2"}, b"").request_id == "r2"


@pytest.mark.parametrize(
    ("body", "message", "details"),
    [
        (b'{"error": "nope"}', "nope", []),
        (b'{"message": "flat", "details": ["a"]}', "flat", [{"issue": "a"}]),
        (b'{"error": {"message": "m", "details": "single"}}', "m", [{"issue": "single"}]),
        (b'{"error": {"message": "m", "details": {"issue": "d"}}}', "m", [{"issue": "d"}]),
        (
            b'{"error": {"details": [1, {"issue": "ok"}]}}',
            "1; ok",
            [{"issue": "1"}, {"issue": "ok"}],
        ),
        (b"[1, 2]", "1; 2", [{"issue": "1"}, {"issue": "2"}]),
        (b'"just a string"', None, []),
        (b"null", None, []),
    ],
)
def test_error_shapes(body: bytes, message: str | None, details: list[Any]) -> None:
    err = error_from_response(422, {}, body)
    if message is None:
        assert err.message.startswith("HTTP 422 error")
    else:
        assert err.message == message
    assert err.details == details


def test_html_error_body_gives_its_title_and_excerpt() -> None:
    html = b"<html><head><title>502 Bad Gateway</title></head><body>" + b"x" * 5000 + b"</body>"
    err = error_from_response(502, {}, html)
    assert isinstance(err, e.ServerError)
    assert err.message == "Bad Gateway"
    assert "502 Bad Gateway" in err.body_excerpt
    assert len(err.body_excerpt) <= 200


def test_invalid_utf8_error_body() -> None:
    err = error_from_response(500, {}, b"\xff\xfe\x00garbage")
    assert err.message.startswith("HTTP 500 error")


def test_rate_limit_retry_after() -> None:
    err = error_from_response(429, {"Retry-After": "7"}, b"")
    assert isinstance(err, e.RateLimitError)
    assert err.retry_after == 7.0
    assert error_from_response(429, {}, b"").retry_after is None  # type: ignore[attr-defined]


@pytest.mark.parametrize("body", [b"{", b"{'a': 1}", b"<html>", b"\xff\xfe", b'{"a": 1,}'])
def test_invalid_json_is_protocol_error(body: bytes) -> None:
    with pytest.raises(e.ProtocolError) as info:
        decode_json(body, status=200, method="GET", path="/x")
    assert info.value.status == 200
    assert len(info.value.excerpt) <= 200


def test_invalid_json_sensitive_excerpt_redacted() -> None:
    with pytest.raises(e.ProtocolError) as info:
        decode_json(b'{"accessToken": "s3cret"', sensitive=True)
    assert "s3cret" not in info.value.excerpt
    assert "s3cret" not in str(info.value)


def test_empty_body_decodes_to_none() -> None:
    assert decode_json(b"") is None
    assert decode_json(b"  \n") is None


def test_model_misfit_is_protocol_error_without_input_values() -> None:
    with pytest.raises(e.ProtocolError) as info:
        parse_model(TokenPair, {"accessToken": {"token": 12345678}}, sensitive=True)
    assert "12345678" not in str(info.value)
    assert "12345678" not in info.value.excerpt
    with pytest.raises(e.ProtocolError) as info2:
        parse_model(Verification, {"id": "not-an-int"})
    assert "Verification" in str(info2.value)


def test_verification_envelope_and_bare() -> None:
    item = {"id": 18, "clientId": 17}
    assert verification_from_payload({"total": 1, "data": [item]}).id == 18
    assert verification_from_payload(item).id == 18
    assert verification_from_payload({"data": item}).id == 18


@pytest.mark.parametrize("payload", [{"total": 0, "data": []}, {"data": None}, None])
def test_empty_verification_envelope_is_not_found(payload: Any) -> None:
    with pytest.raises(e.NotFoundError) as info:
        verification_from_payload(payload, method="GET", path="/v2/my/verifications/{id}")
    assert info.value.status == 404


@pytest.mark.parametrize("payload", [[1, 2], "x", {"data": [{"nope": 1}]}])
def test_verification_misfit(payload: Any) -> None:
    with pytest.raises(e.ProtocolError):
        verification_from_payload(payload)


def test_page_shapes() -> None:
    assert page_from_payload({"total": 0, "data": None}).data == []
    for lacking in ({"total": 3, "data": None}, {"total": 3}, {"error": {"message": "no"}}):
        with pytest.raises(e.ProtocolError):
            page_from_payload(lacking)
    page = page_from_payload([{"id": 1}])
    assert page.total == 1
    assert page.data[0].id == 1
    with pytest.raises(e.ProtocolError):
        page_from_payload({"total": "many", "data": []})


@pytest.mark.parametrize("payload", [[1], "x", {"code": "abc"}, {"code": 200, "uuid": []}])
def test_wizard_misfit(payload: Any) -> None:
    with pytest.raises(e.ProtocolError):
        wizard_step_from_payload(payload)


def test_upload_path_shapes() -> None:
    assert upload_path_from_payload({"data": {"file": "u1/a.jpg"}}) == "u1/a.jpg"
    assert upload_path_from_payload({"file": "u1/b.jpg"}) == "u1/b.jpg"
    assert upload_path_from_payload({"data": {}}) is None
    assert upload_path_from_payload([]) is None


def test_filters_and_segments() -> None:
    assert filter_params({"status": "x", "level": [1, 2], "skip": None, "on": True}) == [
        ("filter[status]", "x"),
        ("filter[level]", "1"),
        ("filter[level]", "2"),
        ("filter[on]", "true"),
    ]
    assert path_segment(18) == "18"
    assert path_segment("a/../b") == "a%2F..%2Fb"
    with pytest.raises(e.ConfigurationError):
        path_segment("")


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("localhost", True),
        ("127.0.0.1", True),
        ("127.5.6.7", True),
        ("::1", True),
        ("[::1]", True),
        ("example.com", False),
        ("10.0.0.1", False),
        ("128.0.0.1", False),
        (None, False),
    ],
)
def test_loopback(host: str | None, loopback: bool) -> None:
    assert is_loopback_host(host) is loopback


def test_base_url_checks() -> None:
    assert check_base_url("https://h.example/api/", allow_insecure_http=False) == (
        "https://h.example/api"
    )
    assert check_base_url("http://127.0.0.1:8080/api", allow_insecure_http=False)
    assert check_base_url("http://h.example/api", allow_insecure_http=True)
    for bad in ("http://h.example/api", "ftp://h/api", "https://u:p@h/api", "nonsense"):
        with pytest.raises(e.ConfigurationError):
            check_base_url(bad, allow_insecure_http=False)
