"""Every JSON shape kycflow emits, in one place: ``--json`` documents, batch and arq results,
``WizardResult.to_dict()``, ``BatchResult.to_dict()`` and ``WizardEvent.to_dict()``.

The rules (documented in docs/cli.md, "JSON output"): snake_case keys; each top-level document
carries ``schema_version`` and a ``kind``; a key documented for a kind is always present
(``null`` when it does not apply); new keys may be added within a version, never renamed or
retyped. The ``TypedDict``s of ``shapes`` are the schema; ``build`` fills them from results
read through small protocols (it knows no transport and no runner); the tests validate real
output against them.
"""

from __future__ import annotations

from .._constants import JSON_SCHEMA_VERSION
from .build import (
    error_dict,
    error_document,
    event_dict,
    job_result_dict,
    page_dict,
    step_dict,
    wizard_result_dict,
)
from .shapes import (
    ERROR_MESSAGE_CHARS,
    ArqJobResultDict,
    DocumentTypeDict,
    ErrorDict,
    ErrorDocument,
    EventDict,
    JobResultDict,
    PartialRunDict,
    StepDict,
    VerificationDict,
    VerificationPageDict,
    WizardResultDict,
)

__all__ = [
    "ERROR_MESSAGE_CHARS",
    "JSON_SCHEMA_VERSION",
    "ArqJobResultDict",
    "DocumentTypeDict",
    "ErrorDict",
    "ErrorDocument",
    "EventDict",
    "JobResultDict",
    "PartialRunDict",
    "StepDict",
    "VerificationDict",
    "VerificationPageDict",
    "WizardResultDict",
    "error_dict",
    "error_document",
    "event_dict",
    "job_result_dict",
    "page_dict",
    "step_dict",
    "wizard_result_dict",
]
