"""Reply bodies to JSON and models: a body that does not fit is a ``ProtocolError``.

Pure functions (no I/O). Nothing here lets a KeyError, TypeError or pydantic ValidationError
escape: a reply that does not fit becomes a ``ProtocolError`` with a short excerpt.
"""

from __future__ import annotations

import json
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from .._constants import ERROR_EXCERPT_CHARS
from ..errors import ProtocolError

__all__ = [
    "REDACTED_EXCERPT",
    "decode_json",
    "excerpt",
    "misfit",
    "parse_model",
    "validation_summary",
]

M = TypeVar("M", bound=BaseModel)
REDACTED_EXCERPT = "[redacted]"
_JSON_OPENERS = frozenset(b"{[")


def excerpt(body: bytes | str, limit: int = ERROR_EXCERPT_CHARS) -> str:
    """A short, single-line, printable excerpt of a body for error messages."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes | bytearray) else body
    text = " ".join(text[: limit * 4].split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def decode_json(
    body: bytes,
    status: int | None = None,
    method: str | None = None,
    path: str | None = None,
    *,
    sensitive: bool = False,
) -> Any:
    """Parse a JSON body. Empty bodies decode to None; invalid JSON is a ``ProtocolError``.
    ``decode_json(body, status, method, path)`` is a call path's ``Decode`` as it is."""
    if not body or body.isspace():  # ``isspace``: no stripped copy of every reply
        return None
    try:
        if body[0] in _JSON_OPENERS:
            # UTF-8 (RFC 8259), as every reply of the API: decoded here, with no sniffing of
            # the encoding per reply. Any other text is sniffed (and a misfit error raised)
            # by ``json.loads`` below.
            try:
                return json.loads(body.decode())
            except ValueError:  # UnicodeDecodeError and JSONDecodeError both
                pass
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


def validation_summary(exc: ValidationError) -> str:
    """Locations and error types of a validation error, never its input values."""
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
        summary = validation_summary(exc)
    # Outside the handler: the ValidationError (it quotes input values) is not kept as context.
    raise misfit(
        f"the server's reply does not fit {model.__name__} ({summary})",
        payload,
        body,
        status=status,
        method=method,
        path=path,
        sensitive=sensitive,
    )


def misfit(
    message: str,
    payload: Any,
    body: bytes,
    *,
    status: int | None = None,
    method: str | None = None,
    path: str | None = None,
    sensitive: bool = False,
) -> ProtocolError:
    """The ``ProtocolError`` of a reply that does not fit, with an excerpt of it."""
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
