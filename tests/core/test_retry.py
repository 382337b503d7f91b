"""Retry decisions, Retry-After parsing and backoff: pure, no HTTP."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest
from hypothesis import given
from hypothesis import strategies as st

from kycflow._constants import MAX_RETRY_AFTER
from kycflow._http.failures import map_exception as _map_exception
from kycflow._http.retry import (
    Action,
    Failure,
    Outcome,
    RetryPolicy,
    backoff,
    classify,
    parse_retry_after,
)
from kycflow.errors import APIConnectionError


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504])
def test_get_retries_retryable_statuses(status: int) -> None:
    assert classify("GET", status).action is Action.RETRY


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 422, 501])
def test_get_raises_other_errors(status: int) -> None:
    assert classify("GET", status).action is Action.RAISE


@pytest.mark.parametrize("status", [200, 201, 202, 204])
def test_success(status: int) -> None:
    assert classify("POST", status).action is Action.SUCCESS


@pytest.mark.parametrize("failure", list(Failure))
def test_get_failures(failure: Failure) -> None:
    expected = Action.RAISE if failure is Failure.TLS else Action.RETRY
    assert classify("GET", failure).action is expected


@pytest.mark.parametrize(
    ("outcome", "action"),
    [
        (Failure.CONNECT, Action.RETRY),
        (Failure.CONNECT_TIMEOUT, Action.RETRY),
        (Failure.TIMEOUT, Action.OUTCOME_UNKNOWN),
        (Failure.DISCONNECT, Action.OUTCOME_UNKNOWN),
        (Failure.TLS, Action.RAISE),
        (429, Action.RETRY),
        (503, Action.RETRY),
        (500, Action.OUTCOME_UNKNOWN),
        (502, Action.OUTCOME_UNKNOWN),
        (504, Action.OUTCOME_UNKNOWN),
        (501, Action.RAISE),
        (400, Action.RAISE),
        (401, Action.RAISE),
        (404, Action.RAISE),
        (408, Action.RAISE),
        (409, Action.RAISE),
    ],
)
def test_post_decisions(outcome: int | Failure, action: Action) -> None:
    assert classify("post", outcome).action is action


@pytest.mark.parametrize(
    ("method", "outcome", "action"),
    [
        ("POST", 429, Action.RAISE),
        ("POST", 503, Action.RAISE),
        ("POST", Failure.CONNECT, Action.RETRY),
        ("POST", Failure.TIMEOUT, Action.OUTCOME_UNKNOWN),
        ("POST", 500, Action.OUTCOME_UNKNOWN),
        ("GET", 429, Action.RAISE),
        ("GET", 503, Action.RAISE),
        ("GET", Failure.TIMEOUT, Action.RAISE),
        ("GET", Failure.CONNECT_TIMEOUT, Action.RETRY),
    ],
)
def test_connect_only_policy(method: str, outcome: int | Failure, action: Action) -> None:
    assert classify(method, outcome, RetryPolicy.CONNECT_ONLY).action is action


NOW = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("5", 5.0),
        (" 2.5 ", 2.5),
        ("0", 0.0),
        ("100000", MAX_RETRY_AFTER),
        ("Wed, 01 May 2024 12:00:30 GMT", 30.0),
        ("Wed, 01 May 2024 11:00:00 GMT", 0.0),
        ("Thu, 02 May 2024 12:00:00 GMT", MAX_RETRY_AFTER),
        (None, None),
        ("", None),
        ("soon", None),
        ("-3", None),
        ("nan", None),
        ("Wed, 99 Foo 2024", None),
    ],
)
def test_parse_retry_after(header: str | None, expected: float | None) -> None:
    assert parse_retry_after(header, NOW) == expected


def test_parse_retry_after_custom_cap_and_naive_now() -> None:
    assert parse_retry_after("50", cap=10) == 10
    naive = NOW.replace(tzinfo=None) + timedelta(seconds=-10)
    assert parse_retry_after("Wed, 01 May 2024 12:00:00 GMT", naive) == 10.0


@given(st.text(max_size=40))
def test_parse_retry_after_never_raises(header: str) -> None:
    value = parse_retry_after(header, NOW)
    assert value is None or 0 <= value <= MAX_RETRY_AFTER


@given(st.integers(min_value=1, max_value=200), st.integers(min_value=0, max_value=2**32))
def test_backoff_bounds(attempt: int, seed: int) -> None:
    delay = backoff(attempt, random.Random(seed), initial=0.5, maximum=8.0)
    base = min(8.0, 0.5 * 2 ** (attempt - 1))
    assert base / 2 <= delay <= base


def test_backoff_grows_and_caps() -> None:
    rng = random.Random(1)
    firsts = [backoff(n, rng, initial=1.0, maximum=4.0) for n in (1, 2, 3, 4, 10)]
    assert 0.5 <= firsts[0] <= 1.0
    assert 1.0 <= firsts[1] <= 2.0
    assert all(2.0 <= d <= 4.0 for d in firsts[2:])


def test_backoff_jitter_varies() -> None:
    rng = random.Random(7)
    assert len({backoff(3, rng) for _ in range(20)}) > 1


@pytest.mark.parametrize(
    ("exc", "failure"),
    [
        (aiohttp.ConnectionTimeoutError(), Failure.CONNECT_TIMEOUT),
        (aiohttp.SocketTimeoutError(), Failure.TIMEOUT),
        (TimeoutError(), Failure.TIMEOUT),
        (aiohttp.ServerDisconnectedError(), Failure.DISCONNECT),
        (aiohttp.ClientPayloadError("cut"), Failure.DISCONNECT),
        (ConnectionResetError(), Failure.DISCONNECT),
    ],
)
def test_network_exceptions_mapped(exc: BaseException, failure: Failure) -> None:
    mapped = _map_exception(exc)
    assert mapped is not None
    assert mapped[0] is failure
    assert isinstance(mapped[1], APIConnectionError)


def test_non_network_exception_not_mapped() -> None:
    assert _map_exception(KeyError("x")) is None


@pytest.mark.parametrize(
    ("outcome", "action"),
    [
        (Failure.CONNECT, Action.RETRY),
        (Failure.CONNECT_TIMEOUT, Action.RETRY),
        (Failure.TLS, Action.RAISE),
        (Failure.TIMEOUT, Action.OUTCOME_UNKNOWN),
        (Failure.DISCONNECT, Action.OUTCOME_UNKNOWN),
        (200, Action.SUCCESS),
        (204, Action.SUCCESS),
        (429, Action.OUTCOME_UNKNOWN),
        (503, Action.OUTCOME_UNKNOWN),
        (500, Action.OUTCOME_UNKNOWN),
        (504, Action.OUTCOME_UNKNOWN),
        (501, Action.RAISE),
        (400, Action.RAISE),
        (409, Action.RAISE),
    ],
)
def test_no_resend_policy_only_retries_what_never_left(outcome: Outcome, action: Action) -> None:
    # A wizard submit: a gateway may answer 429/503 after the server committed.
    assert classify("POST", outcome, RetryPolicy.NO_RESEND).action is action
