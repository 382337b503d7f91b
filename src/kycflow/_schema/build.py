"""Building the JSON documents from results, errors, pages and events (read through small
protocols: this knows no transport and no runner). See ``kycflow._schema``."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any, Protocol, cast

from .._constants import JSON_SCHEMA_VERSION
from ..errors import (
    APIStatusError,
    MissingDocumentError,
    OutcomeUnknownError,
    RateLimitError,
    WizardError,
)
from ..models import DocumentType, VerificationPage
from .shapes import (
    ERROR_MESSAGE_CHARS,
    DocumentTypeDict,
    ErrorDict,
    ErrorDocument,
    JobResultDict,
    JobStatus,
    PartialRunDict,
    StepDict,
    VerificationDict,
    VerificationPageDict,
    WizardResultDict,
)

__all__ = [
    "error_dict",
    "error_document",
    "event_dict",
    "job_result_dict",
    "page_dict",
    "step_dict",
    "wizard_result_dict",
]


class _Step(Protocol):
    @property
    def index(self) -> int: ...
    @property
    def type_id(self) -> int: ...
    @property
    def type_description(self) -> str: ...
    @property
    def files(self) -> Sequence[str]: ...
    @property
    def reconciled(self) -> bool: ...


class _Result(Protocol):
    @property
    def done(self) -> bool: ...
    @property
    def outcome(self) -> str: ...
    @property
    def run_id(self) -> str: ...
    @property
    def uuid(self) -> str: ...
    @property
    def workflow(self) -> str: ...
    @property
    def retries(self) -> int: ...
    @property
    def resumed(self) -> bool: ...
    @property
    def steps(self) -> Sequence[_Step]: ...


def step_dict(step: _Step) -> StepDict:
    """One committed step."""
    return {
        "index": step.index,
        "type_id": step.type_id,
        "type_description": step.type_description,
        "files": list(step.files),
        "reconciled": step.reconciled,
    }


def wizard_result_dict(result: _Result) -> WizardResultDict:
    """A finished run."""
    return {
        "schema_version": JSON_SCHEMA_VERSION,
        "kind": "wizard_result",
        "done": result.done,
        "outcome": result.outcome,
        "run_id": result.run_id,
        "uuid": result.uuid,
        "workflow": result.workflow,
        "retries": result.retries,
        "resumed": result.resumed,
        "steps": [step_dict(s) for s in result.steps],
    }


def _type_dict(doc_type: DocumentType) -> DocumentTypeDict:
    return {"id": doc_type.id, "description": doc_type.description}


def error_dict(exc: BaseException, *, message: str | None = None) -> ErrorDict:
    """An error; ``message`` replaces ``str(exc)`` (cut to ``ERROR_MESSAGE_CHARS``)."""
    text = str(exc)[:ERROR_MESSAGE_CHARS] if message is None else message
    status_error = exc.cause if isinstance(exc, OutcomeUnknownError) else exc
    wizard = exc if isinstance(exc, WizardError) else None
    return {
        "type": type(exc).__name__,
        "message": text or type(exc).__name__,
        "status": exc.status if isinstance(exc, APIStatusError) else None,
        "request_id": exc.request_id if isinstance(exc, APIStatusError) else None,
        "server_message": exc.message if isinstance(exc, APIStatusError) else None,
        "details": exc.details if isinstance(exc, APIStatusError) else None,
        "retry_after": status_error.retry_after
        if isinstance(status_error, RateLimitError)
        else None,
        "workflow": getattr(wizard, "workflow", None),
        "step": getattr(wizard, "step", None),
        "reason": getattr(wizard, "reason", None),
        "requested": [_type_dict(t) for t in exc.requested]
        if isinstance(exc, MissingDocumentError)
        else None,
    }


def job_result_dict(
    key: str,
    result: _Result | None,
    error: BaseException | None,
    *,
    index: int | None = None,
    status: JobStatus | None = None,
) -> JobResultDict:
    """One job's outcome (``status`` defaults from ``result`` and ``error``)."""
    if status is None:
        # A wizard that ended without success (202, done: false) did not complete the job.
        complete = error is None and result is not None and result.outcome == "completed"
        status = "complete" if complete else "failed"
    return {
        "schema_version": JSON_SCHEMA_VERSION,
        "kind": "job_result",
        "key": key,
        "index": index,
        "status": status,
        "outcome": result.outcome if result is not None else None,
        "run_id": result.run_id if result is not None else None,
        "uuid": result.uuid if result is not None else None,
        "workflow": result.workflow if result is not None else None,
        "retries": result.retries if result is not None else 0,
        "resumed": result.resumed if result is not None else False,
        "steps": [step_dict(s) for s in (result.steps if result is not None else ())],
        "error": None if error is None else error_dict(error),
    }


def error_document(
    exc: BaseException, *, exit_code: int, message: str, partial: PartialRunDict | None = None
) -> ErrorDocument:
    """A failed command's ``--json`` document."""
    return {
        "schema_version": JSON_SCHEMA_VERSION,
        "kind": "error",
        "exit_code": exit_code,
        "error": error_dict(exc, message=message),
        "partial": partial,
    }


def page_dict(page: VerificationPage) -> VerificationPageDict:
    """A page of verification history, snake_case (the API's camelCase names are not kept)."""
    return {
        "schema_version": JSON_SCHEMA_VERSION,
        "kind": "verification_page",
        "total": page.total,
        "data": [cast("VerificationDict", v.model_dump(mode="json")) for v in page.data],
    }


def event_dict(event: Any) -> dict[str, Any]:
    """A runner event (a dataclass with a ``name``): its fields, tuples as lists."""
    data: dict[str, Any] = {
        "schema_version": JSON_SCHEMA_VERSION,
        "kind": "event",
        "event": event.name,
    }
    for f in dataclasses.fields(event):
        value = getattr(event, f.name)
        data[f.name] = list(value) if isinstance(value, tuple) else value
    return data
