"""Error replies to kycflow errors, and the facade of the pure wire functions.

``urls`` builds requests, ``decoding`` and ``replies`` read 2xx bodies; this module turns an
error reply into its ``APIStatusError``. Pure functions (no I/O).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from ..errors import APIStatusError, RateLimitError, status_error_class
from .decoding import REDACTED_EXCERPT, decode_json, excerpt, misfit, parse_model
from .error_bodies import error_fields, text_message
from .replies import (
    check_not_error,
    is_wizard_envelope,
    page_from_payload,
    upload_path_from_payload,
    verification_from_payload,
    wizard_step_from_payload,
)
from .retry import parse_retry_after
from .urls import (
    check_base_url,
    filter_params,
    is_loopback_host,
    join_url,
    path_segment,
    request_id_of,
    with_query,
)

__all__ = [
    "REDACTED_EXCERPT",
    "check_base_url",
    "check_not_error",
    "decode_json",
    "error_from_response",
    "excerpt",
    "filter_params",
    "is_loopback_host",
    "is_wizard_envelope",
    "join_url",
    "misfit",
    "page_from_payload",
    "parse_model",
    "path_segment",
    "request_id_of",
    "upload_path_from_payload",
    "verification_from_payload",
    "with_query",
    "wizard_step_from_payload",
]

REPORTED_RETRY_CAP = 86_400.0


def error_from_response(
    status: int,
    headers: Mapping[str, str],
    body: bytes,
    *,
    method: str | None = None,
    path: str | None = None,
    now: datetime | None = None,
) -> APIStatusError:
    """The ``APIStatusError`` subclass for an error reply, with message, details and request id.

    Message and details come from every error-body shape of NOTES.md (see ``_error_bodies``);
    a plain-text body is the message, an HTML page from a proxy gives its title. The body's
    excerpt is kept either way.
    """
    parsed = True
    try:
        payload: Any = json.loads(body) if body.strip() else None
    except (UnicodeDecodeError, ValueError, RecursionError):
        payload, parsed = None, False
    message, details = error_fields(payload)
    body_text = excerpt(body)
    if message is None and not parsed:
        message, details = text_message(status, headers, body)
    if message is None:
        message = f"HTTP {status} error" + (f": {body_text}" if body_text else "")
    else:
        message = excerpt(message, 500)
    cls = status_error_class(status)
    kwargs: dict[str, Any] = {
        "status": status,
        "request_id": request_id_of(headers),
        "details": details,
        "body_excerpt": body_text,
        "method": method,
        "path": path,
    }
    if cls is RateLimitError:
        return RateLimitError(
            message,
            # The server's own figure (a sign-in lockout says 600 s): the transport caps only
            # how long it waits itself (max_retry_after).
            retry_after=parse_retry_after(headers.get("Retry-After"), now, cap=REPORTED_RETRY_CAP),
            **kwargs,
        )
    return cls(message, **kwargs)
