"""The per-request shortcuts of the call path keep the behaviour they skip: the coordinator is
asked only when it has something to say, a fixed token's headers are sent as they are, and no
span handle is made while nothing would record it."""

from __future__ import annotations

import datetime
import gzip
import json
import pickle
import random
import traceback
from collections.abc import Callable, Mapping
from typing import Any, cast

import aiohttp
import pytest
from aiohttp import web
from fakeserver import FakeServer
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.trace import TracerProvider

import kycflow
from kycflow._http.bodies import read_body
from kycflow._http.decoding import decode_json
from kycflow._http.replies import wizard_step_from_payload
from kycflow._http.secrets import Secret, encode_json
from kycflow._telemetry import NULL
from kycflow._telemetry._handles import HttpHandle, StepHandle
from kycflow._telemetry._otel import OtelBackend
from kycflow.coordination import LocalCoordinator
from kycflow.errors import ProtocolError
from kycflow.testing import MockTransport, reply
from kycflow.transport import HTTPRequest, HTTPResponse

BASE = "https://kyc.example.test/api"
WIZARD = {"code": 200, "data": None, "done": False, "uuid": "v-1", "workflow": "B2B\\W\\Step"}


class CountingCoordinator(LocalCoordinator):
    """A ``LocalCoordinator`` that counts the acquires it is asked for."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.acquires = 0

    async def acquire(self, host: str, max_wait: float | None = None) -> None:
        self.acquires += 1
        await super().acquire(host, max_wait)


class Answers:
    """Replies in turn, each request seen kept."""

    def __init__(self, *replies: HTTPResponse) -> None:
        self.replies = list(replies)
        self.seen: list[HTTPRequest] = []

    def __call__(self, request: HTTPRequest) -> HTTPResponse:
        self.seen.append(request)
        return self.replies.pop(0)


async def no_sleep(_: float) -> None:
    return None


def test_a_local_coordinator_is_idle_only_with_nothing_to_wait_for() -> None:
    assert LocalCoordinator().idle
    assert not LocalCoordinator(rate=10.0).idle


async def test_a_pause_keeps_the_coordinator_busy_until_acquire_drops_it() -> None:
    now = [100.0]
    coordinator = LocalCoordinator(clock=lambda: now[0], sleep=no_sleep)
    await coordinator.pause("h", 5.0)
    await coordinator.pause("other", 1.0)
    assert not coordinator.idle  # any pause sends every request through acquire
    now[0] = 102.0
    await coordinator.acquire("other")  # "h" is still paused
    assert not coordinator.idle
    now[0] = 106.0
    await coordinator.acquire("h")
    assert coordinator.idle


async def test_requests_skip_acquire_until_a_retry_after_pauses_the_host(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    now = [100.0]
    asked: list[str] = []
    own_acquire = LocalCoordinator.acquire

    async def sleep(seconds: float) -> None:
        now[0] += seconds

    async def acquire(self: LocalCoordinator, host: str, max_wait: float | None = None) -> None:
        asked.append(host)
        await own_acquire(self, host, max_wait)

    monkeypatch.setattr(LocalCoordinator, "acquire", acquire)  # LocalCoordinator's own, counted
    coordinator = LocalCoordinator(clock=lambda: now[0], sleep=sleep)
    answers = Answers(
        reply(200, WIZARD),
        reply(503, {"error": "busy"}, headers={"Retry-After": "1"}),
        reply(200, WIZARD),
        reply(200, WIZARD),
    )
    async with kycflow.Client(
        BASE,
        auth=kycflow.BearerToken("tok-0123456789abcdef"),
        transport=MockTransport(answers),
        coordinator=coordinator,
    ) as client:
        client.transport._sleep = no_sleep
        await client.wizard.start()
        assert asked == []
        await client.wizard.start()  # 503 + Retry-After: the host is paused, then retried
        assert len(asked) == 1  # the retry waited the pause out through acquire
        assert coordinator.paused_waits == 1
        await client.wizard.start()  # the pause is over and dropped: no acquire again
    assert len(asked) == 1
    assert len(answers.seen) == 4


@pytest.mark.parametrize(
    "make",
    [CountingCoordinator, lambda: LocalCoordinator(rate=1000.0, burst=10)],
    ids=["a subclass with its own acquire", "a rate"],
)
async def test_a_coordinator_with_something_to_say_is_asked_before_every_request(
    monkeypatch: pytest.MonkeyPatch, make: Callable[[], LocalCoordinator]
) -> None:
    asked: list[str] = []
    own_acquire = LocalCoordinator.acquire

    async def acquire(self: LocalCoordinator, host: str, max_wait: float | None = None) -> None:
        asked.append(host)
        await own_acquire(self, host, max_wait)

    monkeypatch.setattr(LocalCoordinator, "acquire", acquire)  # a subclass's super() too
    answers = Answers(reply(200, WIZARD), reply(200, WIZARD))
    async with kycflow.Client(
        BASE, auth=kycflow.BearerToken("tok"), transport=MockTransport(answers),
        coordinator=make(),
    ) as client:  # fmt: skip
        await client.wizard.start()
        await client.wizard.start()
    assert len(asked) == 2


async def test_a_fixed_token_is_sent_as_is_and_cut_from_an_echo() -> None:
    token = "tok-0123456789abcdef"
    echo = dict(WIZARD, workflow=f"echo Bearer {token}")
    answers = Answers(reply(200, echo))
    async with kycflow.Client(
        BASE, auth=kycflow.BearerToken(token), transport=MockTransport(answers)
    ) as client:
        step = await client.wizard.start()
    sent = answers.seen[0].headers["Authorization"]
    assert sent == f"Bearer {token}"
    assert token not in repr(sent)  # a redacted value, down to the transport
    assert token not in step.workflow
    assert "[redacted]" in step.workflow


def test_a_bearer_tokens_fixed_headers_are_redacted_and_read_only() -> None:
    auth = kycflow.BearerToken("tok-0123456789abcdef")
    assert "tok-0123456789abcdef" not in repr(auth.fixed_headers)
    with pytest.raises(TypeError):
        cast(Any, auth.fixed_headers)["Authorization"] = "Bearer other"
    again = pickle.loads(pickle.dumps(auth))
    assert again.fixed_headers == auth.fixed_headers
    assert again.token.get_secret_value() == "tok-0123456789abcdef"


class ExtraHeaderToken(kycflow.BearerToken):
    """A subclass with headers of its own: the call path must ask it."""

    async def headers(self, requester: Any) -> Mapping[str, str]:
        return {**(await super().headers(requester)), "X-Tenant": "t-1"}


async def test_a_bearer_token_subclass_with_its_own_headers_is_asked() -> None:
    answers = Answers(reply(200, WIZARD))
    auth = ExtraHeaderToken("tok-0123456789abcdef")
    async with kycflow.Client(BASE, auth=auth, transport=MockTransport(answers)) as client:
        await client.wizard.start()
    assert answers.seen[0].headers["X-Tenant"] == "t-1"
    assert answers.seen[0].headers["Authorization"] == "Bearer tok-0123456789abcdef"
    again = pickle.loads(pickle.dumps(auth))
    assert type(again) is ExtraHeaderToken


def test_a_tracer_sdk_set_late_is_used_within_a_second(monkeypatch: pytest.MonkeyPatch) -> None:
    import kycflow._telemetry._otel as otel

    now = [1000.0]
    monkeypatch.setattr(otel.time, "monotonic", lambda: now[0])
    backend = OtelBackend()
    assert backend.http_span("GET", BASE + "/v2/x", "/v2/x", 1) is NULL
    monkeypatch.setattr(otel.trace, "get_tracer_provider", TracerProvider)  # an SDK appears
    now[0] += 1.5
    assert isinstance(backend.http_span("GET", BASE + "/v2/x", "/v2/x", 1), HttpHandle)


def test_no_span_handle_while_neither_tracing_nor_metering(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import kycflow._telemetry._otel as otel

    now = [1000.0]
    monkeypatch.setattr(otel.time, "monotonic", lambda: now[0])
    backend = OtelBackend()  # the API's global proxies, no SDK behind them
    assert backend.http_span("GET", BASE + "/v2/x", "/v2/x", 1) is NULL
    assert backend.step_span(1) is NULL
    monkeypatch.setattr(otel.metrics, "get_meter_provider", MeterProvider)  # an SDK appears
    assert backend.http_span("GET", BASE + "/v2/x", "/v2/x", 1) is NULL  # asked once a second
    now[0] += 1.5
    assert isinstance(backend.http_span("GET", BASE + "/v2/x", "/v2/x", 1), HttpHandle)
    assert isinstance(backend.step_span(1), StepHandle)


def test_an_explicit_meter_provider_records_from_the_first_request() -> None:
    backend = OtelBackend(meter_provider=MeterProvider())
    assert isinstance(backend.http_span("GET", BASE + "/v2/x", "/v2/x", 1), HttpHandle)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b'{"a": 1}', {"a": 1}),
        ('\ufeff{"a": 2}'.encode(), {"a": 2}),  # a UTF-8 byte order mark
        ('{"a": 3}'.encode("utf-16"), {"a": 3}),  # sniffed, as json.loads does
        ('{"a": 4}'.encode("utf-16-le"), {"a": 4}),  # begins with "{" yet is not UTF-8 JSON
        (b"[1, 2]", [1, 2]),
        (b"7", 7),
    ],
)
def test_replies_decode_in_every_encoding_json_loads_sniffs(body: bytes, expected: Any) -> None:
    assert decode_json(body) == expected


def test_an_invalid_reply_is_still_a_protocol_error() -> None:
    with pytest.raises(ProtocolError, match="not valid JSON"):
        decode_json(b'{"a": ')


def test_an_envelope_without_data_that_is_an_error_object_is_refused() -> None:
    with pytest.raises(ProtocolError, match="is an error"):
        wizard_step_from_payload({"code": 400, "error": "no such wizard"})
    step = wizard_step_from_payload({"code": 200, "error": "blurry", "uuid": "v-1", "data": []})
    assert step.reason() == "blurry"  # an envelope's error is a refusal's reason


def test_secrets_in_a_json_body_are_found_while_encoding() -> None:
    body, secrets = encode_json({"password": Secret("hunter2"), "list": [{"code": Secret("1")}]})
    assert json.loads(body) == {"password": "hunter2", "list": [{"code": "1"}]}
    assert sorted(secrets) == ["1", "hunter2"]
    assert "hunter2" not in repr(secrets)
    assert "hunter2" not in repr(body)
    plain, none = encode_json({"a": [1, "x"]})
    assert plain == b'{"a":[1,"x"]}'
    assert not none
    with pytest.raises(kycflow.ConfigurationError):
        encode_json({"a": object()})


def test_a_read_bound_no_shorter_than_the_total_is_left_out() -> None:
    from kycflow._constants import DEFAULT_READ_TIMEOUT, DEFAULT_TOTAL_TIMEOUT
    from kycflow._http.timeouts import make_timeout

    default = make_timeout(DEFAULT_TOTAL_TIMEOUT)
    assert (default.total, default.sock_read) == (DEFAULT_TOTAL_TIMEOUT, None)
    longer = make_timeout(DEFAULT_READ_TIMEOUT * 2)
    assert longer.sock_read == DEFAULT_READ_TIMEOUT  # a long call still bounds each read
    upload = make_timeout(None)
    assert (upload.total, upload.sock_read) == (None, DEFAULT_READ_TIMEOUT)
    assert make_timeout(5).sock_read is None
    assert make_timeout(5).sock_connect == 5


def _gzip_of_length(wanted: int) -> tuple[bytes, bytes]:
    """A body whose gzip is exactly ``wanted`` bytes, and that gzip (seeded: deterministic)."""
    noise = random.Random(7).randbytes(wanted + 1024)
    size = wanted
    for _ in range(50):
        raw = noise[:size] + b"0" * (4 * wanted)
        packed = gzip.compress(raw, mtime=0)
        if len(packed) == wanted:
            return raw, packed
        size += wanted - len(packed)
    raise AssertionError("no body of that gzip length")


async def test_a_compressed_reply_is_read_whole_whatever_its_wire_length() -> None:
    # The first read's 64 KiB of decompressed bytes equal the Content-Length (the wire's):
    # still not the whole body.
    raw, packed = _gzip_of_length(64 * 1024)

    async def handler(request: web.Request) -> web.Response:
        return web.Response(body=packed, headers={"Content-Encoding": "gzip"})

    async with FakeServer() as server, aiohttp.ClientSession() as session:
        server.route("GET", "/blob", handler)
        async with session.get(server.origin + "/blob") as resp:
            assert resp.content_length == len(packed)
            assert await read_body(resp, 10**8) == raw


def test_a_body_that_fails_to_encode_leaves_no_secret_in_rendered_locals() -> None:
    try:
        # Joined here: the rendered source line must not show it either.
        password = Secret("-".join(("hunter2", "SECRET")))
        encode_json({"password": password, "when": datetime.date(2024, 1, 1)})
    except kycflow.ConfigurationError as exc:
        rendered = "".join(
            traceback.TracebackException.from_exception(exc, capture_locals=True).format()
        )
    else:
        raise AssertionError("a date is not JSON")
    assert "hunter2-SECRET" not in rendered
