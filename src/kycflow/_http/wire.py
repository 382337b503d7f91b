"""Request building and reply decoding: bytes and headers in, models or kycflow errors out.

Pure functions (no I/O). Nothing here lets a KeyError, TypeError or pydantic ValidationError
escape: a reply that does not fit becomes a ``ProtocolError`` with a short excerpt.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import quote, urlsplit

from pydantic import BaseModel, ValidationError

from .._constants import ERROR_EXCERPT_CHARS
from ..errors import (
    APIStatusError,
    ConfigurationError,
    NotFoundError,
    ProtocolError,
    RateLimitError,
    status_error_class,
)
from ..models import Verification, VerificationPage, WizardStep
from .error_bodies import error_fields, text_message
from .retry import parse_retry_after

__all__ = [
    "check_base_url",
    "check_not_error",
    "decode_json",
    "error_from_response",
    "excerpt",
    "filter_params",
    "is_loopback_host",
    "is_wizard_envelope",
    "join_url",
    "page_from_payload",
    "parse_model",
    "path_segment",
    "request_id_of",
    "upload_path_from_payload",
    "verification_from_payload",
    "wizard_step_from_payload",
]

M = TypeVar("M", bound=BaseModel)
REDACTED_EXCERPT = "[redacted]"
REPORTED_RETRY_CAP = 86_400.0


def excerpt(body: bytes | str, limit: int = ERROR_EXCERPT_CHARS) -> str:
    """A short, single-line, printable excerpt of a body for error messages."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes | bytearray) else body
    text = " ".join(text[: limit * 4].split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def request_id_of(headers: Mapping[str, str]) -> str | None:
    """The server's request id (``X-Request-Id`` or ``Request-Id``), if any."""
    for name in ("X-Request-Id", "Request-Id", "x-request-id", "request-id"):
        value = headers.get(name)
        if value:
            return value
    return None


def is_loopback_host(host: str | None) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1)."""
    if not host:
        return False
    name = host.strip("[]").lower().rstrip(".")
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def check_base_url(base_url: str, *, allow_insecure_http: bool) -> str:
    """Validate a base URL and return it without a trailing slash."""
    try:
        parts = urlsplit(base_url)
    except ValueError as exc:
        raise ConfigurationError(f"invalid base URL: {base_url!r}") from exc
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigurationError(f"base URL must be http(s)://host/...: {base_url!r}")
    if parts.username or parts.password:
        raise ConfigurationError("base URL must not carry credentials")
    if parts.query or parts.fragment:
        raise ConfigurationError("base URL must not carry a query or fragment")
    if parts.scheme == "http" and not allow_insecure_http and not is_loopback_host(parts.hostname):
        raise ConfigurationError(
            f"refusing plain http to {parts.hostname}: use https, or pass allow_insecure_http=True"
        )
    return base_url.rstrip("/")


def join_url(base_url: str, path: str) -> str:
    """``base_url`` (like ``https://host/api``) joined with an endpoint path (``/v2/my/...``)."""
    return base_url.rstrip("/") + "/" + path.lstrip("/")


def path_segment(value: object) -> str:
    """A value quoted for use as one path segment (``/`` and friends escaped)."""
    if isinstance(value, bool):
        raise ConfigurationError("a path parameter must be an int or a string")
    text = str(value)
    if not text:
        raise ConfigurationError("a path parameter must not be empty")
    return quote(text, safe="")


def _param_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def filter_params(filters: Mapping[str, object] | None) -> list[tuple[str, str]]:
    """``{"status": "x"}`` as ``[("filter[status]", "x")]``; a list value repeats the key."""
    if not filters:
        return []
    out: list[tuple[str, str]] = []
    for field, value in filters.items():
        key = f"filter[{field}]"
        if isinstance(value, list | tuple | set | frozenset):
            out.extend((key, _param_value(v)) for v in value)
        elif value is not None:
            out.append((key, _param_value(value)))
    return out


def decode_json(
    body: bytes,
    *,
    status: int | None = None,
    method: str | None = None,
    path: str | None = None,
    sensitive: bool = False,
) -> Any:
    """Parse a JSON body. Empty bodies decode to None; invalid JSON is a ``ProtocolError``."""
    if not body or body.isspace():  # ``isspace``: no stripped copy of every reply
        return None
    try:
        return json.loads(body)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        if not sensitive:
            raise ProtocolError(
                "the server's reply is not valid JSON",
                excerpt=excerpt(body),
                status=status,
                method=method,
                path=path,
                transient=True,
            ) from exc
    # Raised outside the handler so that not even ``__context__`` keeps the decode error: a
    # JSONDecodeError holds the whole body (its ``doc``), tokens included.
    raise ProtocolError(
        "the server's reply is not valid JSON",
        excerpt=REDACTED_EXCERPT,
        status=status,
        method=method,
        path=path,
        transient=True,
    )


def _validation_summary(exc: ValidationError) -> str:
    # Only locations and error types: pydantic's own message quotes input values (maybe secrets).
    parts = []
    for err in exc.errors(include_input=False, include_url=False)[:3]:
        loc = ".".join(str(p) for p in err.get("loc", ())) or "<root>"
        parts.append(f"{loc}: {err.get('type', 'invalid')}")
    return "; ".join(parts)


def parse_model(
    model: type[M],
    payload: Any,
    *,
    body: bytes = b"",
    status: int | None = None,
    method: str | None = None,
    path: str | None = None,
    sensitive: bool = False,
) -> M:
    """Validate ``payload`` into ``model``; a misfit is a ``ProtocolError``."""
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        summary = _validation_summary(exc)
    # Outside the handler: the ValidationError (it quotes input values) is not kept as context.
    raise _misfit(
        f"the server's reply does not fit {model.__name__} ({summary})",
        payload,
        body,
        status,
        method,
        path,
        sensitive,
    )


def _misfit(
    message: str,
    payload: Any,
    body: bytes,
    status: int | None,
    method: str | None,
    path: str | None,
    sensitive: bool,
) -> ProtocolError:
    if sensitive:
        text = REDACTED_EXCERPT
    elif body:
        text = excerpt(body)
    else:
        try:
            text = excerpt(json.dumps(payload, default=str))
        except (TypeError, ValueError, RecursionError):  # RecursionError: absurdly deep nesting
            text = ""
    return ProtocolError(message, excerpt=text, status=status, method=method, path=path)


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


def check_not_error(
    payload: Any, *, body: bytes = b"", method: str | None = None, path: str | None = None
) -> None:
    """Raise ``ProtocolError`` when a 2xx reply's JSON is an error object (``{"error": ...}``
    or ``{"errors": [...]}`` without the call's data): a server saying no, never an empty
    result."""
    if not isinstance(payload, dict):
        return
    if is_wizard_envelope(payload) and ("data" in payload or "uuid" in payload):
        return  # an envelope's ``error`` is a refusal's reason (the step asked again), not a no
    error = payload.get("error")
    errors = payload.get("errors")
    if (error is None or error is False or error == "") and not (
        errors and "data" not in payload and "code" not in payload
    ):
        return
    message, _ = error_fields(payload)
    raise _misfit(
        "the server's 2xx reply is an error" + (f": {excerpt(message, 300)}" if message else ""),
        payload,
        body,
        None,
        method,
        path,
        False,
    )


def is_wizard_envelope(payload: Any) -> bool:
    """Whether a decoded reply is a wizard envelope (an object with an integer ``code``)."""
    if not isinstance(payload, dict):
        return False
    code = payload.get("code")
    return isinstance(code, int) and not isinstance(code, bool)


def verification_from_payload(
    payload: Any, *, body: bytes = b"", method: str | None = None, path: str | None = None
) -> Verification:
    """A verification from the list envelope (``{"total", "data": [...]}``) or a bare object.

    An envelope with no item is a ``NotFoundError``; an error object is a ``ProtocolError``.
    """
    check_not_error(payload, body=body, method=method, path=path)
    item: Any = payload
    if isinstance(payload, dict) and "data" in payload and "id" not in payload:
        data = payload.get("data")
        if isinstance(data, list):
            if not data:
                raise NotFoundError(
                    "verification not found (empty reply)", status=404, method=method, path=path
                )
            item = data[0]
        elif isinstance(data, dict):
            item = data
        elif data is None:
            raise NotFoundError(
                "verification not found (empty reply)", status=404, method=method, path=path
            )
    if item is None:
        raise NotFoundError(
            "verification not found (empty reply)", status=404, method=method, path=path
        )
    return parse_model(Verification, item, body=body, method=method, path=path)


def page_from_payload(
    payload: Any, *, body: bytes = b"", method: str | None = None, path: str | None = None
) -> VerificationPage:
    """A page of the history from ``{"total": N, "data": [...]}``.

    A reply without ``data`` (or an error object) is a ``ProtocolError``, never an empty page;
    ``data: null`` is an empty page only when ``total`` says there is nothing.
    """
    check_not_error(payload, body=body, method=method, path=path)
    if isinstance(payload, dict) and (
        "data" not in payload
        or (payload.get("data") is None and payload.get("total") not in (None, 0))
    ):
        raise _misfit(
            "the history reply carries no data",
            payload,
            body,
            None,
            method,
            path,
            False,
        )
    if isinstance(payload, list):
        # A bare list has no total: it is all there is.
        payload = {"total": len(payload), "data": payload}
    elif isinstance(payload, dict) and payload.get("data") is None and "data" in payload:
        payload = {**payload, "data": []}
    return parse_model(VerificationPage, payload, body=body, method=method, path=path)


def wizard_step_from_payload(
    payload: Any, *, body: bytes = b"", method: str | None = None, path: str | None = None
) -> WizardStep:
    """A wizard step from the wizard envelope (every documented ``data`` shape).

    An error object, or JSON that is not an envelope (no integer ``code``), is a
    ``ProtocolError``.
    """
    check_not_error(payload, body=body, method=method, path=path)
    if not is_wizard_envelope(payload):
        raise _misfit(
            "the server's reply is not a wizard envelope (no code)",
            payload,
            body,
            None,
            method,
            path,
            False,
        )
    try:
        return WizardStep.from_envelope(payload)
    except ValidationError as exc:
        raise _misfit(
            f"the server's reply does not fit WizardStep ({_validation_summary(exc)})",
            payload,
            body,
            None,
            method,
            path,
            False,
        ) from None
    except (TypeError, ValueError, AttributeError) as exc:
        raise _misfit(
            f"the server's reply does not fit WizardStep ({type(exc).__name__})",
            payload,
            body,
            None,
            method,
            path,
            False,
        ) from None


def upload_path_from_payload(payload: Any) -> str | None:
    """The stored path from ``{"data": {"file": ...}}`` or a top-level ``file``; else None."""
    if not isinstance(payload, dict):
        return None
    data = payload.get("data")
    candidates: Iterable[Any] = (
        data.get("file") if isinstance(data, dict) else None,
        data if isinstance(data, str) else None,
        payload.get("file"),
    )
    for value in candidates:
        if isinstance(value, str) and value:
            return value
    return None
