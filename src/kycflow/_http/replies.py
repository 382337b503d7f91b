"""Decoded replies to models: the wizard envelope, the history, a verification, an upload.

Pure functions (no I/O); a reply that does not fit is a ``ProtocolError`` (``misfit``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pydantic import ValidationError

from ..errors import NotFoundError
from ..models import Verification, VerificationPage, WizardStep
from .decoding import excerpt, misfit, parse_model, validation_summary
from .error_bodies import error_fields

__all__ = [
    "check_not_error",
    "is_wizard_envelope",
    "page_from_payload",
    "upload_path_from_payload",
    "verification_from_payload",
    "wizard_step_from_payload",
]


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
    raise misfit(
        "the server's 2xx reply is an error" + (f": {excerpt(message, 300)}" if message else ""),
        payload,
        body,
        method=method,
        path=path,
    )


def is_wizard_envelope(payload: Any) -> bool:
    """Whether a decoded reply is a wizard envelope (an object with an integer ``code``)."""
    # ``type() is int``: JSON gives plain ints, and a bool (an int subclass) is no code.
    return isinstance(payload, dict) and type(payload.get("code")) is int


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
        raise misfit(
            "the history reply carries no data",
            payload,
            body,
            method=method,
            path=path,
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
        problem = "is not a wizard envelope (no code)"
    else:
        try:
            return WizardStep.from_envelope(payload)
        except ValidationError as exc:
            problem = f"does not fit WizardStep ({validation_summary(exc)})"
        except (TypeError, ValueError, AttributeError) as exc:
            problem = f"does not fit WizardStep ({type(exc).__name__})"
    # Outside the handlers: the ValidationError (it quotes input values) is not kept as context.
    raise misfit(f"the server's reply {problem}", payload, body, method=method, path=path)


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
