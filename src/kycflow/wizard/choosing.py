"""Choosing what a wizard step gets: the types the provider supplies, the policy's pick, and
the steps no document can answer (a third-party SDK's wizard)."""

from __future__ import annotations

from collections.abc import Set as AbstractSet

from ..documents import Document
from ..errors import (
    ConfigurationError,
    DocumentError,
    KycflowError,
    MissingDocumentError,
    StepRefusedError,
    UnsupportedWizardError,
)
from ..models import DocumentType, WizardStep
from .providers import FileProvider
from .results import TypePolicy
from .state import LiveStepInProgress

__all__ = ["Chooser", "Picked", "Supplied", "check_supported"]

Supplied = list[tuple[DocumentType, list[Document]]]
"""The step's enabled types the provider supplies, in the server's order, with their files."""


class Picked:
    """What a step sends: the procedure, its checkpointed progress, the files, and what the
    choice saw."""

    __slots__ = ("current", "docs", "in_doubt", "supplied_ids", "uuid", "wants_events")

    def __init__(
        self,
        uuid: str,
        current: LiveStepInProgress,
        docs: list[Document],
        supplied_ids: tuple[int, ...],
        in_doubt: bool,
        wants_events: bool,
    ) -> None:
        self.uuid = uuid
        self.current = current
        self.docs = docs
        self.supplied_ids = supplied_ids  # the types a refusal may still be retried with
        self.in_doubt = in_doubt  # a crashed run's submit of this very step may have landed
        self.wants_events = wants_events


def _type_label(doc_type: DocumentType) -> str:
    return f"{doc_type.id} ({doc_type.description})" if doc_type.description else str(doc_type.id)


def check_supported(step: WizardStep, number: int) -> None:
    """Raise ``UnsupportedWizardError`` for a step no document can answer."""
    sdk = step.sdk
    if sdk is not None or not step.types:
        workflow = step.workflow or "(no workflow)"
        why = (
            f"a third-party KYC SDK ({sdk}): documents cannot be uploaded through the API"
            if sdk is not None
            else "a step that carries no document types"
        )
        raise UnsupportedWizardError(
            f"the wizard's workflow {workflow} is {why} (step {number})",
            workflow=step.workflow,
            step=number,
        )


class Chooser:
    """Finds what the provider supplies for a step and picks the type (one per runner)."""

    __slots__ = ("_policy", "_provider")

    def __init__(self, provider: FileProvider, policy: TypePolicy) -> None:
        self._provider = provider
        self._policy = policy

    async def supplied(
        self, step: WizardStep, number: int, excluded: AbstractSet[int], reason: str | None
    ) -> Supplied:
        """The step's types the provider supplies (none excluded); raises when there are none."""
        supplied: Supplied = []
        for doc_type in step.enabled_types:
            if doc_type.id in excluded:
                continue
            docs = await self._supply(doc_type)
            if docs:
                supplied.append((doc_type, docs))
        if supplied:
            return supplied
        if excluded:
            raise StepRefusedError(
                f"step {number} was refused for every document type the provider supplies "
                f"({', '.join(str(i) for i in sorted(excluded))})"
                + (f": {reason}" if reason else ""),
                step=number,
                type_ids=sorted(excluded),
                reason=reason,
            )
        requested = step.enabled_types or step.types
        names = ", ".join(_type_label(t) for t in requested) or "none"
        raise MissingDocumentError(
            f"step {number} asks for document types the provider cannot supply: {names}",
            requested=requested,
        )

    def choose(
        self, step: WizardStep, supplied: Supplied, current: LiveStepInProgress | None
    ) -> tuple[DocumentType, list[Document]]:
        """The type (and files) to submit: the one a resumed step started with, else the
        policy's pick."""
        if current is not None:
            for doc_type, docs in supplied:
                if doc_type.id == current.type_id:
                    return doc_type, docs
        choice = self._policy(step, [t for t, _ in supplied])
        for doc_type, docs in supplied:
            if doc_type.id == getattr(choice, "id", None):
                return doc_type, docs
        raise ConfigurationError("the type policy returned a type that was not offered to it")

    async def _supply(self, doc_type: DocumentType) -> list[Document] | None:
        try:
            found = await self._provider.documents_for(doc_type)
        except KycflowError:
            raise
        except Exception as exc:
            raise DocumentError(
                f"the file provider failed for document type {doc_type.id}: {type(exc).__name__}"
            ) from exc
        if found is None:
            return None
        docs = list(found)
        if not all(isinstance(doc, Document) for doc in docs):
            raise DocumentError(
                f"the file provider returned something other than a Document for {doc_type.id}"
            )
        return docs or None
