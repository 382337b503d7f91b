"""The runner's public types: what it needs of a client, its type policy, and its results."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from ._schema import WizardResultDict, wizard_result_dict
from .documents import Document
from .events import WizardEvent
from .models import DocumentType, WizardStep

__all__ = [
    "EventCallback",
    "FilesAPI",
    "StepResult",
    "TypePolicy",
    "WizardAPI",
    "WizardClient",
    "WizardResult",
    "first_supplied",
]


class WizardAPI(Protocol):
    """The wizard half of the client API the runner uses."""

    async def start(self) -> WizardStep: ...

    async def submit(self, uuid: str, document_type_id: int, files: list[str], /) -> WizardStep: ...


class FilesAPI(Protocol):
    """The upload half of the client API the runner uses."""

    async def upload(self, document: Document, /) -> str: ...


class WizardClient(Protocol):
    """What the runner needs of a client: ``kycflow.Client`` (or a view from ``with_auth``)."""

    @property
    def wizard(self) -> WizardAPI: ...

    @property
    def files(self) -> FilesAPI: ...


TypePolicy = Callable[[WizardStep, Sequence[DocumentType]], DocumentType]
"""Chooses the type to submit from the step's enabled types the provider supplies (server
order, never empty). It must return one of them."""

EventCallback = Callable[[WizardEvent], "Awaitable[None] | None"]


def first_supplied(step: WizardStep, supplied: Sequence[DocumentType]) -> DocumentType:
    """The default policy: the first supplied type in the server's order."""
    return supplied[0]


@dataclass(frozen=True)
class StepResult:
    """A committed step (``index`` from 1): the type submitted and its files' stored paths.
    ``reconciled``: the commit was confirmed by re-reading the wizard after an ambiguous
    failure."""

    index: int
    type_id: int
    type_description: str
    files: tuple[str, ...]
    reconciled: bool = False


@dataclass(frozen=True)
class WizardResult:
    """The outcome of a run. ``steps`` include those committed by an earlier, resumed run;
    ``retries`` counts uploads and submits tried again in this run."""

    run_id: str
    uuid: str
    done: bool
    workflow: str
    final_step: WizardStep
    steps: tuple[StepResult, ...]
    retries: int
    resumed: bool

    def to_dict(self) -> WizardResultDict:
        """The result as plain JSON data (docs/cli.md, "JSON output": ``kind: "wizard_result"``)."""
        return wizard_result_dict(self)
