"""What one request of an attempt becomes: the 2xx ``Response``, the status error, its log."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

from .._logging import is_enabled
from ..errors import APIStatusError, APITimeoutError, ProtocolError, RateLimitError
from .context import Call, Response
from .failures import raise_for
from .retry import Decision, Failure, classify, parse_retry_after
from .seam import HTTPRequest, HTTPResponse, Timeouts
from .secrets import (
    SecretBytes,
    request_secrets,
    scrub_error,
    scrub_protocol_error,
    without_echoed_credentials,
)
from .timeouts import capped_limits, seam_timeouts
from .wire import error_from_response, request_id_of

__all__ = [
    "checked_reply",
    "deadline_passed",
    "log_attempt",
    "retry_after_of",
    "status_error",
    "success",
    "time_left",
]


def success(call: Call, reply: HTTPResponse, sent_auth: Mapping[str, str]) -> Response:
    """The 2xx reply as a ``Response`` (its body decoded); an unreadable body is raised as
    the policy says (retried for a GET, an unknown outcome for a POST)."""
    payload = reply.body
    if sent_auth:
        payload = without_echoed_credentials(payload, sent_auth)
    data = None
    if call.decode is not None:
        try:
            data = call.decode(payload, reply.status, call.method, call.template)
        except ProtocolError as exc:
            # The server answered 2xx (a POST was applied) but the body is unreadable.
            if call.secrets or sent_auth:
                # Nor the decoder's frames (their locals hold the body) nor its
                # JSONDecodeError (its ``doc`` is the body) may keep an echo.
                scrub_protocol_error(exc, request_secrets(call.secrets or (), sent_auth))
                exc.__cause__ = exc.__context__ = None
                exc = exc.with_traceback(None)
                payload = SecretBytes(payload)
            decision = classify(call.method, Failure.DISCONNECT, call.policy)
            raise_for(Decision(decision.action, "unreadable reply"), exc, None, None)
    headers = reply.headers
    return Response(reply.status, headers, payload, request_id_of(headers), reply.url, data)


def status_error(call: Call, reply: HTTPResponse, sent_auth: Mapping[str, str]) -> APIStatusError:
    """The error of a non-2xx reply, with no echo of the request's secrets (a 1xx or an
    unfollowed 3xx is a ``ProtocolError``)."""
    status = reply.status
    if 300 <= status < 400 or status < 200:
        raise ProtocolError(
            f"unexpected status {status}", status=status, method=call.method, path=call.template
        )
    error = error_from_response(
        reply.status, reply.headers, reply.body, method=call.method, path=call.template
    )
    if call.secrets or sent_auth:
        # A server may echo the request (a 422 quoting its input): not into our errors.
        scrub_error(error, request_secrets(call.secrets or (), sent_auth), reply.body)
    return error


def log_attempt(
    log: Any,
    call: Call,
    status: int | None,
    attempt: int,
    started: float | None,
    request_id: str | None,
    error: str | None,
) -> None:
    """The ``http.request`` debug line of one request."""
    if not is_enabled(log, logging.DEBUG):
        return
    elapsed = None if started is None else round((time.monotonic() - started) * 1000, 1)
    log.debug(
        "http.request",
        method=call.method,
        path=call.template,
        status=status,
        attempt=attempt,
        elapsed_ms=elapsed,
        request_id=request_id,
        error=error,
    )


def retry_after_of(reply: HTTPResponse, error: APIStatusError) -> float | None:
    """The server's requested pause: a 429's ``retry_after``, or a 503's ``Retry-After``."""
    if isinstance(error, RateLimitError):
        return error.retry_after
    if reply.status == 503:
        return parse_retry_after(reply.headers.get("Retry-After"))
    return None


def checked_reply(reply: HTTPResponse, request: HTTPRequest) -> HTTPResponse:
    """What ``send`` returned, held to the seam's contract whatever transport sent it: a body
    within ``max_body`` (``ProtocolError`` otherwise) and the request's URL when it left none."""
    if len(reply.body) > request.max_body:
        raise ProtocolError(
            f"the server's reply exceeds max_response_bytes={request.max_body}",
            status=reply.status,
        )
    if not reply.url:  # a new reply: a transport may hand out one canned object many times
        return HTTPResponse(reply.status, reply.headers, reply.body, request.url)
    return reply


def deadline_passed(call: Call, when: str = "") -> APITimeoutError:
    """The error of a call whose deadline passed (``when``: where it was)."""
    message = "the call's deadline passed" + (f" {when}" if when else "")
    return APITimeoutError(message, method=call.method, path=call.template)


def time_left(call: Call, deadline_at: float) -> Timeouts:
    """The call's timeout as a request's limits, cut to what is left of its deadline
    (``deadline_passed`` if none)."""
    remaining = deadline_at - time.monotonic()
    if remaining <= 0:
        raise deadline_passed(call)
    return capped_limits(seam_timeouts(call.timeout), remaining)
