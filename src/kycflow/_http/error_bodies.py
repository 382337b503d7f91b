"""The server's words in an error body, whatever its shape (NOTES.md "Errors"). Pure.

``{"error": {"message", "details"}}`` (the documented shape), ``{"error": "..."}``,
``{"message", "details"}``, ``{"errors": [...]}``, RFC 9457 problem+json (``title``,
``detail``, ``violations``/``errors``), a bare list, plain text, and HTML from a proxy.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from html import unescape
from typing import Any

from ..errors import detail_text

__all__ = ["error_fields", "errors_text", "text_message"]

_MESSAGE_KEYS = ("message", "detail", "title", "error_description", "reason", "description")


def _as_details(value: Any) -> list[dict[str, Any]]:
    if isinstance(value, dict):
        # ``{"field": ["msg", ...]}`` (a validation map) or one detail object.
        if (
            value
            and all(isinstance(v, list | str) for v in value.values())
            and not any(k in value for k in ("issue", "message", "detail", "title"))
        ):
            out: list[dict[str, Any]] = []
            for field, msgs in value.items():
                for msg in msgs if isinstance(msgs, list) else [msgs]:
                    out.append({"field": field, "issue": str(msg)})
            return out
        return [value]
    if isinstance(value, list):
        out = []
        for item in value:
            if isinstance(item, dict):
                out.append(item)
            elif isinstance(item, str | int | float) and not isinstance(item, bool):
                out.append({"issue": str(item)})
        return out
    if isinstance(value, str) and value.strip():
        return [{"issue": value}]
    return []


def _first_text(obj: dict[str, Any], keys: Iterable[str] = _MESSAGE_KEYS) -> str | None:
    for key in keys:
        value = obj.get(key)
        if isinstance(value, str) and value.strip():
            return value
    return None


def error_fields(payload: Any) -> tuple[str | None, list[dict[str, Any]]]:
    """Message and details of every error-body shape NOTES.md lists.

    ``{"error": {"message", "details"}}``, ``{"error": "..."}``, ``{"message", "details"}``,
    ``{"errors": [...]}``, RFC 9457 problem+json (``title``, ``detail``, ``violations`` or
    ``errors``), and a bare list of errors.
    """
    if isinstance(payload, list):
        details = _as_details(payload)
        return (errors_text(details) or None), details
    if not isinstance(payload, dict):
        return None, []
    error = payload.get("error")
    if isinstance(error, dict):
        message = _first_text(error)
        details = _as_details(error.get("details") or error.get("errors"))
    else:
        message = error if isinstance(error, str) and error.strip() else None
        title = payload.get("title")
        detail = payload.get("detail")
        if message is None and isinstance(title, str) and isinstance(detail, str) and detail:
            # problem+json: ``title`` names the kind, ``detail`` says what happened.
            message = detail if title.strip() in ("", detail) else f"{title}: {detail}"
        message = message or _first_text(payload)
        details = _as_details(
            payload.get("details")
            or payload.get("violations")
            or payload.get("errors")
            or payload.get("invalid_params")
        )
    if message is None and details:
        message = errors_text(details) or None
    return message, details


def errors_text(details: list[dict[str, Any]]) -> str:
    """The details' texts joined (a message for a body that is only a list of errors)."""
    return "; ".join(t for t in (detail_text(d) for d in details[:5]) if t)


def text_message(
    status: int, headers: Mapping[str, str], body: bytes
) -> tuple[str | None, list[dict[str, Any]]]:
    """The server's words in a non-JSON error body: plain text, or an HTML page's title (its
    leading status dropped) with its paragraphs as details."""
    try:
        text = body.decode("utf-8").strip()
    except UnicodeDecodeError:
        return None, []
    if not text or not all(c.isprintable() or c.isspace() for c in text):
        return None, []
    content_type = (headers.get("Content-Type") or "").lower()
    if "html" not in content_type and text[:1] != "<":
        return text, []
    message = None
    for tag in ("title", "h1"):
        found = re.search(rf"<{tag}[^>]*>(.*?)</{tag}>", text, re.I | re.S)
        if found and _strip_tags(found.group(1)):
            message = _strip_tags(found.group(1))
            break
    if message is not None and message.startswith(f"{status} ") and len(message) > 4:
        message = message[4:].strip()
    details = [
        {"issue": para}
        for para in (_strip_tags(p) for p in re.findall(r"<p[^>]*>(.*?)</p>", text, re.I | re.S))
        if para
    ][:5]
    return message, details


def _strip_tags(html: str) -> str:
    return unescape(" ".join(re.sub(r"<[^>]+>", " ", html).split()))
