"""The verification wizard: ``start`` and ``submit``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Unpack

from .._wire import wizard_step_from_payload
from ..errors import ConfigurationError
from ..models import WizardStep

if TYPE_CHECKING:
    from ..client import Client, RequestOptions

__all__ = ["Wizard"]

START_PATH = "/v2/my/verifications/wizard"
SUBMIT_PATH = "/v2/my/verifications"


class Wizard:
    """Start the current verification procedure and submit its steps."""

    def __init__(self, client: Client) -> None:
        self._client = client

    async def start(self, **options: Unpack[RequestOptions]) -> WizardStep:
        """The current procedure at its current step (created if none is open)."""
        client = self._client
        response, payload = await client.request(
            "GET", START_PATH, options=client.call_options(options)
        )
        return wizard_step_from_payload(payload, body=response.body, method="GET", path=START_PATH)

    async def submit(
        self,
        uuid: str,
        document_type_id: int,
        files: Sequence[str],
        **options: Unpack[RequestOptions],
    ) -> WizardStep:
        """Submit one document type with its stored file paths; returns the next step.

        A POST: retried only if it provably never reached the server, or on 429/503; any other
        failure after sending raises ``OutcomeUnknownError``.
        """
        if not isinstance(uuid, str) or not uuid:
            raise ConfigurationError("uuid must be a non-empty string")
        if isinstance(document_type_id, bool) or not isinstance(document_type_id, int):
            raise ConfigurationError("document_type_id must be an int")
        if isinstance(files, str) or not all(isinstance(f, str) and f for f in files):
            raise ConfigurationError("files must be a sequence of stored paths (strings)")
        body = {
            "data": {
                "documents": {"type": document_type_id, "files": list(files)},
                "uuid": uuid,
            }
        }
        client = self._client
        response, payload = await client.request(
            "POST", SUBMIT_PATH, options=client.call_options(options), json=body
        )
        return wizard_step_from_payload(
            payload, body=response.body, method="POST", path=SUBMIT_PATH
        )
