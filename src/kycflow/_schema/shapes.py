"""The JSON shapes kycflow emits, as ``TypedDict``s validated exactly (no undocumented key).
See ``kycflow._schema``."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict, with_config

# pydantic validates only typing_extensions' TypedDict on Python < 3.12 (a pydantic dependency).
from typing_extensions import TypedDict

__all__ = [
    "ERROR_MESSAGE_CHARS",
    "ArqJobResultDict",
    "DocumentTypeDict",
    "ErrorDict",
    "ErrorDocument",
    "EventDict",
    "JobResultDict",
    "JobStatus",
    "PartialRunDict",
    "StepDict",
    "VerificationDict",
    "VerificationPageDict",
    "WizardResultDict",
]

ERROR_MESSAGE_CHARS = 300
# The TypedDicts validate (pydantic.TypeAdapter) as exactly what they say: no key undocumented.
_EXACT = ConfigDict(extra="forbid", strict=True)

JobStatus = Literal["complete", "failed", "interrupted"]


@with_config(_EXACT)
class StepDict(TypedDict):
    """A committed step: ``index`` from 1, the type submitted, its files' stored paths."""

    index: int
    type_id: int
    type_description: str
    files: list[str]
    reconciled: bool


@with_config(_EXACT)
class WizardResultDict(TypedDict):
    """``kind: "wizard_result"``: a finished run (``WizardResult.to_dict()``, ``run --json``)."""

    schema_version: int
    kind: Literal["wizard_result"]
    done: bool
    outcome: str
    run_id: str
    uuid: str
    workflow: str
    retries: int
    resumed: bool
    steps: list[StepDict]


@with_config(_EXACT)
class DocumentTypeDict(TypedDict):
    id: int
    description: str


@with_config(_EXACT)
class ErrorDict(TypedDict):
    """An error: its class name, a message without secrets, and what is known of it."""

    type: str
    message: str
    status: int | None
    request_id: str | None
    server_message: str | None
    details: Any
    retry_after: float | None
    workflow: str | None
    step: int | None
    reason: str | None
    requested: list[DocumentTypeDict] | None


@with_config(_EXACT)
class JobResultDict(TypedDict):
    """``kind: "job_result"``: one job of a batch or of an arq worker."""

    schema_version: int
    kind: Literal["job_result"]
    key: str
    index: int | None
    status: JobStatus
    outcome: str | None
    run_id: str | None
    uuid: str | None
    workflow: str | None
    retries: int
    resumed: bool
    steps: list[StepDict]
    error: ErrorDict | None


@with_config(_EXACT)
class ArqJobResultDict(JobResultDict):
    """An arq job's result: a job result plus arq's ``job_try``."""

    job_try: int


@with_config(_EXACT)
class PartialRunDict(TypedDict):
    """What a run had done when it failed or was interrupted."""

    run_id: str | None
    uuid: str | None
    steps: list[StepDict]


@with_config(_EXACT)
class ErrorDocument(TypedDict):
    """``kind: "error"``: a command that failed (``--json``); ``partial``: ``run``'s progress."""

    schema_version: int
    kind: Literal["error"]
    exit_code: int
    error: ErrorDict
    partial: PartialRunDict | None


@with_config(_EXACT)
class VerificationDict(TypedDict):
    id: int
    client_id: int | None
    current_level: dict[str, Any] | None
    previous_level: dict[str, Any] | None
    reason: dict[str, Any] | None
    user_id: int | None
    create_time: str | None


@with_config(_EXACT)
class VerificationPageDict(TypedDict):
    """``kind: "verification_page"``: a page of history (``history --json``)."""

    schema_version: int
    kind: Literal["verification_page"]
    total: int
    data: list[VerificationDict]


@with_config(ConfigDict(extra="allow", strict=True))
class EventDict(TypedDict):
    """``kind: "event"``: a runner event; each event type adds its own fields."""

    schema_version: int
    kind: Literal["event"]
    event: str
    run_id: str
    step: int
    timestamp: float
