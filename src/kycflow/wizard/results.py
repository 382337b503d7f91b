"""The runner's public types: what it needs of a client, its type policy, and its results."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from .._schema import WizardResultDict, wizard_result_dict
from ..documents import Document
from ..models import DocumentType, WizardStep
from .events import WizardEvent
from .state import LiveCheckpoint

__all__ = [
    "OUTCOME_COMPLETED",
    "OUTCOME_ENDED_WITHOUT_SUCCESS",
    "EventCallback",
    "FilesAPI",
    "StepResult",
    "TypePolicy",
    "WizardAPI",
    "WizardClient",
    "WizardResult",
    "first_supplied",
    "result_of",
]


class WizardAPI(Protocol):
    """The wizard half of the client API the runner uses."""

    async def start(self) -> WizardStep: ...

    async def submit(self, uuid: str, document_type_id: int, files: list[str], /) -> WizardStep: ...


class FilesAPI(Protocol):
    """The upload half of the client API the runner uses. When it also has
    ``async validate(document) -> Document`` (``kycflow.Client`` does), the runner validates
    every file of a step with it, i.e. with the client's limits, before the step's first
    request; otherwise with the library's default limits."""

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


OUTCOME_COMPLETED = "completed"
OUTCOME_ENDED_WITHOUT_SUCCESS = "ended_without_success"


@dataclass(frozen=True)
class WizardResult:
    """The outcome of a run: the wizard reached its final step (code 202).

    ``outcome`` says how it ended: ``"completed"`` (the server's ``done: true``: the procedure
    succeeded) or ``"ended_without_success"`` (a 202 with ``done: false``); ``done`` and
    ``succeeded`` are True only for the first. ``steps`` include those committed by an earlier,
    resumed run; ``retries`` counts reads, uploads and submits tried again in this run."""

    run_id: str
    uuid: str
    done: bool
    workflow: str
    final_step: WizardStep
    steps: tuple[StepResult, ...]
    retries: int
    resumed: bool
    outcome: str = OUTCOME_COMPLETED

    @property
    def succeeded(self) -> bool:
        """Whether the procedure succeeded (``outcome == "completed"``)."""
        return self.outcome == OUTCOME_COMPLETED

    def to_dict(self) -> WizardResultDict:
        """The result as plain JSON data (docs/cli.md, "JSON output": ``kind: "wizard_result"``)."""
        return wizard_result_dict(self)


def result_of(
    cp: LiveCheckpoint, final_step: WizardStep, *, run_id: str, retries: int, resumed: bool
) -> WizardResult:
    """The result of a run that reached ``final_step`` with ``cp`` its checkpoint."""
    outcome = OUTCOME_COMPLETED if final_step.succeeded else OUTCOME_ENDED_WITHOUT_SUCCESS
    return WizardResult(
        run_id=run_id,
        uuid=cp.uuid or final_step.uuid or "",
        done=outcome == OUTCOME_COMPLETED,
        workflow=final_step.workflow,
        final_step=final_step,
        steps=tuple(
            StepResult(
                index=i,
                type_id=s.type_id,
                type_description=s.type_description,
                files=tuple(s.files),
                reconciled=s.reconciled,
            )
            for i, s in enumerate(cp.steps, start=1)
        ),
        retries=retries,
        resumed=resumed,
        outcome=outcome,
    )
