"""The verification wizard: ``start`` and ``submit``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Unpack

from .._http.decoding import excerpt
from .._http.options import RequestOptions
from .._http.replies import check_not_error, is_wizard_envelope, wizard_step_from_payload
from .._http.retry import RetryPolicy
from ..errors import ConfigurationError, OutcomeUnknownError, ProtocolError
from ..models import WizardStep
from ._client import ClientLike

__all__ = ["Wizard"]

START_PATH = "/v2/my/verifications/wizard"
SUBMIT_PATH = "/v2/my/verifications"


class Wizard:
    """Start the current verification procedure and submit its steps."""

    __slots__ = ("_client",)

    def __init__(self, client: ClientLike) -> None:
        self._client = client

    async def start(self, **options: Unpack[RequestOptions]) -> WizardStep:
        """The current procedure at its current step (created if none is open)."""
        client = self._client
        response = await client.request("GET", START_PATH, options=client.call_options(options))
        payload = response.data
        return wizard_step_from_payload(payload, body=response.body, method="GET", path=START_PATH)

    async def submit(
        self,
        uuid: str,
        document_type_id: int,
        files: Sequence[str],
        **options: Unpack[RequestOptions],
    ) -> WizardStep:
        """Submit one document type with its stored file paths; returns the server's reply.

        The reply is a wizard envelope: the next page itself on some servers, an echo of the
        submitted types (no Document Type objects: read the next page with ``start``) on others.
        Never resent: retried only if it provably never reached the server. Any failure after
        sending (timeout, reset, 429, 5xx) and any 2xx reply that is empty or not a wizard
        envelope raises ``OutcomeUnknownError``: read the wizard to learn whether it was
        committed (``WizardRunner`` does). A 2xx error object raises ``ProtocolError``.
        """
        body = _submit_body(uuid, document_type_id, files)
        client = self._client
        response = await client.request(
            "POST",
            SUBMIT_PATH,
            options=client.call_options(options),
            json=body,
            policy=RetryPolicy.NO_RESEND,
        )
        payload = response.data
        _check_submit_reply(payload, response.body, response.status)
        return wizard_step_from_payload(
            payload, body=response.body, method="POST", path=SUBMIT_PATH
        )


def _submit_body(uuid: str, document_type_id: int, files: Sequence[str]) -> dict[str, Any]:
    if not isinstance(uuid, str) or not uuid:
        raise ConfigurationError("uuid must be a non-empty string")
    if isinstance(document_type_id, bool) or not isinstance(document_type_id, int):
        raise ConfigurationError("document_type_id must be an int")
    if isinstance(files, str) or not all(isinstance(f, str) and f for f in files):
        raise ConfigurationError("files must be a sequence of stored paths (strings)")
    return {"data": {"documents": {"type": document_type_id, "files": list(files)}, "uuid": uuid}}


def _check_submit_reply(payload: Any, body: bytes, status: int) -> None:
    """Raise ``OutcomeUnknownError`` for a 2xx reply that says nothing of the wizard."""
    try:
        check_not_error(payload, body=body, method="POST", path=SUBMIT_PATH)
    except ProtocolError as refused:
        # A 2xx error object says no, yet nothing of the wizard: whether the step was
        # committed is learnt by reading it (the runner reconciles); the server's words stay.
        raise OutcomeUnknownError(
            f"POST {SUBMIT_PATH}: {refused.message}; read the wizard to learn whether the "
            "step was committed",
            cause=refused,
            method="POST",
            path=SUBMIT_PATH,
        ) from refused
    if is_wizard_envelope(payload):
        return
    # 202 "processing will start later", 204, or some other body: says nothing.
    what = "an empty" if payload is None else "a non-envelope"
    cause = ProtocolError(
        f"the submit got {what} {status} reply",
        excerpt=excerpt(body),
        status=status,
        method="POST",
        path=SUBMIT_PATH,
    )
    raise OutcomeUnknownError(
        f"POST {SUBMIT_PATH}: {what} {status} reply says nothing about the wizard; read it "
        "to learn whether the step was committed",
        cause=cause,
        method="POST",
        path=SUBMIT_PATH,
    )
