"""WizardRunner: drives the verification wizard from its first step to its end.

Each step: pick one of the step's enabled document types that the file provider can supply,
validate its files, upload them (concurrently, bounded), submit them, and take the reply as the
next step. Submits are made exactly once: when a submit's outcome is unknown, the runner re-reads
the wizard and resends only if the server has not moved past the step. Progress is saved to a
checkpoint after every upload and around every submit, so a crashed run can resume.

The runner uses only the client's public API (``client.wizard.start``, ``client.wizard.submit``,
``client.files.upload``), typed by the small ``WizardClient`` protocol (in ``_run_types``).
"""

from __future__ import annotations

import asyncio
import uuid as uuid_lib
from collections.abc import Sequence

from structlog.contextvars import bound_contextvars

from . import _telemetry as telemetry
from ._constants import (
    DEFAULT_MAX_STEPS,
    DEFAULT_MAX_SUBMIT_ATTEMPTS,
    DEFAULT_RUN_DEADLINE,
    DEFAULT_SETTLE_DELAY,
    DEFAULT_STALL_LIMIT,
    DEFAULT_UPLOAD_CONCURRENCY,
)
from ._run_types import (
    EventCallback,
    StepResult,
    TypePolicy,
    WizardClient,
    WizardResult,
    first_supplied,
)
from ._run_types import FilesAPI as FilesAPI
from ._run_types import WizardAPI as WizardAPI
from ._uploads import UploadingRun
from .checkpoint import Checkpoint, CheckpointStore, CompletedStep, StepInProgress, step_signature
from .documents import Document
from .errors import (
    APITimeoutError,
    ConfigurationError,
    ConflictError,
    DocumentError,
    KycflowError,
    MissingDocumentError,
    OutcomeUnknownError,
    ProtocolError,
    WizardDeadlineError,
    WizardStalledError,
    WizardStepLimitError,
)
from .events import Completed, Failed, StepStarted, StepSubmitted
from .leases import hold_lease
from .models import WIZARD_FINAL, WIZARD_INTERMEDIATE, DocumentType, WizardStep
from .providers import FileProvider

__all__ = [
    "EventCallback",
    "StepResult",
    "TypePolicy",
    "WizardClient",
    "WizardResult",
    "WizardRunner",
    "first_supplied",
]

_FAILED_MESSAGE_CHARS = 300


def _positive(name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigurationError(f"{name} must be a positive integer")
    return value


def _type_label(doc_type: DocumentType) -> str:
    return f"{doc_type.id} ({doc_type.description})" if doc_type.description else str(doc_type.id)


class WizardRunner:
    """Drives a user's verification wizard to its end with documents from ``provider``.

    ``client`` is a ``kycflow.Client`` authenticated as the user (or anything with its
    ``wizard``/``files`` API). Options:

    - ``max_steps``: at most this many committed steps (``WizardStepLimitError``).
    - ``deadline``: seconds for the whole run, ``None`` for none (``WizardDeadlineError``).
    - ``on_event``: a sync or async callable given every ``WizardEvent``; its exceptions are
      logged and ignored.
    - ``checkpoint_store``/``checkpoint_key``: where progress is saved and resumed from (a key
      is required with a store). Without a store, progress lives only in memory for the run.
    - ``type_policy``: picks the type to submit (default ``first_supplied``). A step resumed from
      a checkpoint keeps the type it was started with, so its stored files are reused.
    - ``upload_concurrency``: uploads in flight at once within a step.
    - ``stall_limit``: a step returned unchanged after this many submits in a row raises
      ``WizardStalledError``. Between such submits the runner tries the other supplied types,
      never submitting one type twice for one step.
    - ``max_submit_attempts``: tries per submit, and per upload, whose outcome was unknown.
    - ``settle_delay``: seconds to wait after a submit *timed out* before reading the wizard
      again, so that a server still processing the request can commit it first.

    Reconciliation assumes what the wizard contract promises: a committed submit changes the
    step (its uuid, code, workflow or types) or, by re-asking, is indistinguishable from a
    refusal; a server that re-asks the identical step after a commit is handled as a stall.
    A server that commits a timed-out submit later than ``settle_delay`` after the timeout can
    still see a resend; it refuses the resend as a conflict (409), which the runner reconciles.
    """

    def __init__(
        self,
        client: WizardClient,
        provider: FileProvider,
        *,
        max_steps: int = DEFAULT_MAX_STEPS,
        deadline: float | None = DEFAULT_RUN_DEADLINE,
        on_event: EventCallback | None = None,
        checkpoint_store: CheckpointStore | None = None,
        checkpoint_key: str | None = None,
        type_policy: TypePolicy = first_supplied,
        upload_concurrency: int = DEFAULT_UPLOAD_CONCURRENCY,
        stall_limit: int = DEFAULT_STALL_LIMIT,
        max_submit_attempts: int = DEFAULT_MAX_SUBMIT_ATTEMPTS,
        settle_delay: float = DEFAULT_SETTLE_DELAY,
        run_id: str | None = None,
    ) -> None:
        if checkpoint_store is not None and not checkpoint_key:
            raise ConfigurationError("checkpoint_key is required with a checkpoint_store")
        if deadline is not None and not deadline > 0:
            raise ConfigurationError("deadline must be a positive number of seconds or None")
        self.client = client
        self.provider = provider
        self.max_steps = _positive("max_steps", max_steps)
        self.deadline = deadline
        self.on_event = on_event
        self.checkpoint_store = checkpoint_store
        self.checkpoint_key = checkpoint_key
        self.type_policy = type_policy
        self.upload_concurrency = _positive("upload_concurrency", upload_concurrency)
        self.stall_limit = _positive("stall_limit", stall_limit)
        self.max_submit_attempts = _positive("max_submit_attempts", max_submit_attempts)
        if not settle_delay >= 0:
            raise ConfigurationError("settle_delay must be >= 0 seconds")
        self.settle_delay = settle_delay
        self.run_id = run_id

    def __repr__(self) -> str:
        return f"WizardRunner(provider={self.provider!r}, checkpoint_key={self.checkpoint_key!r})"

    async def run(self) -> WizardResult:
        """Drive the wizard to its final step and return what was done.

        Raises ``MissingDocumentError``, ``DocumentError``, ``WizardStalledError``,
        ``WizardStepLimitError``, ``WizardDeadlineError``, ``ProtocolError`` or the client's
        error that ended the run; the checkpoint then holds everything known to be stored or
        committed. Cancellation propagates after the step's uploads are cancelled.
        """
        run = _Run(self, self.run_id or uuid_lib.uuid4().hex)
        # One run per key: a store that leases holds the key for the whole run.
        async with hold_lease(self.checkpoint_store, self.checkpoint_key, run.run_id):
            with bound_contextvars(run_id=run.run_id), telemetry.run_span(run.run_id, run):
                return await run.execute()


class _Run(UploadingRun):
    """One ``run()`` call: the run loop, resuming, choosing a type, and the exactly-once submit."""

    # -- the run ------------------------------------------------------------------------------

    async def execute(self) -> WizardResult:
        try:
            try:
                async with asyncio.timeout(self.r.deadline) as scope:
                    return await self._drive()
            except TimeoutError as exc:
                if scope.expired():
                    raise WizardDeadlineError(
                        f"the wizard run did not finish within {self.r.deadline} seconds"
                    ) from exc
                raise
        except asyncio.CancelledError:
            self.log.info("wizard.cancelled", step=len(self.cp.steps) + 1)
            raise
        except Exception as exc:
            await self._emit(
                Failed(
                    run_id=self.run_id,
                    step=len(self.cp.steps) + 1,
                    error=type(exc).__name__,
                    message=str(exc)[:_FAILED_MESSAGE_CHARS],
                )
            )
            raise

    async def _drive(self) -> WizardResult:
        loaded = await self.store.load(self.key) if self.store is not None else None
        step = await self._read()
        if loaded is not None and not loaded.done:
            self.cp = loaded
            self.cp.run_id = self.run_id
            await self._resume(step)
        else:
            # The checkpoint made in ``__init__`` is still untouched: give it the uuid.
            self.cp.uuid = step.uuid or None
        await self._save()

        excluded: set[int] = set()
        unchanged = 0
        signature = step_signature(step)  # once per step: it is compared, and checkpointed
        while not step.is_final:
            if len(self.cp.steps) >= self.r.max_steps:
                raise WizardStepLimitError(
                    f"the wizard asked for more than max_steps={self.r.max_steps} steps"
                )
            with telemetry.step_span(len(self.cp.steps) + 1) as span:
                reply, type_id = await self._do_step(step, signature, excluded)
                reply_signature = step_signature(reply)
                span.committed(self.cp.steps[-1], refused=reply_signature == signature)
            if reply_signature == signature:
                unchanged += 1
                excluded.add(type_id)
                if unchanged >= self.r.stall_limit:
                    raise WizardStalledError(
                        f"the wizard returned the same step {unchanged} times in a row"
                    )
            else:
                unchanged = 0
                excluded = set()
            step, signature = reply, reply_signature

        self.cp.current = None
        self.cp.done = True
        await self._save()
        if self._wants_events():
            await self._emit(
                Completed(
                    run_id=self.run_id,
                    step=len(self.cp.steps),
                    uuid=step.uuid or self.cp.uuid or "",
                    workflow=step.workflow,
                    retries=self.retries,
                    resumed=self.resumed,
                )
            )
        return WizardResult(
            run_id=self.run_id,
            uuid=step.uuid or self.cp.uuid or "",
            done=step.is_final,
            workflow=step.workflow,
            final_step=step,
            steps=tuple(
                StepResult(
                    index=i,
                    type_id=s.type_id,
                    type_description=s.type_description,
                    files=tuple(s.files),
                    reconciled=s.reconciled,
                )
                for i, s in enumerate(self.cp.steps, start=1)
            ),
            retries=self.retries,
            resumed=self.resumed,
        )

    async def _resume(self, step: WizardStep) -> None:
        """Align a loaded checkpoint with the server's current step."""
        cp = self.cp
        current = cp.current
        same_procedure = bool(step.uuid) and step.uuid == cp.uuid
        if current is not None and current.submit_in_flight:
            self.resumed = True
            if step_signature(step) != current.signature:
                # The server moved past the step: the in-flight submit was committed.
                self._commit(current, current.submitted_files, reconciled=True)
                await self._emit(
                    StepSubmitted(
                        run_id=self.run_id,
                        step=len(cp.steps),
                        type_id=current.type_id,
                        file_count=len(current.submitted_files),
                        next_code=step.code,
                        reconciled=True,
                    )
                )
            else:
                current.submit_in_flight = False
        elif current is not None and step_signature(step) != current.signature:
            # The step changed some other way: its stored files are orphans nobody references.
            cp.current = None
        if same_procedure:
            self.resumed = True
        elif not self.resumed:
            # The checkpoint's procedure is over or replaced; nothing of it applies.
            self.cp = Checkpoint(key=self.key, run_id=self.run_id)
        if step.uuid:
            self.cp.uuid = step.uuid

    async def _read(self) -> WizardStep:
        step = await self.r.client.wizard.start()
        self._check_code(step)
        return step

    @staticmethod
    def _check_code(step: WizardStep) -> None:
        if step.code not in (WIZARD_INTERMEDIATE, WIZARD_FINAL):
            raise ProtocolError(f"the wizard step has an unknown code {step.code}")

    def _commit(self, current: StepInProgress, files: Sequence[str], *, reconciled: bool) -> None:
        telemetry.record_commit(reconciled)
        self.cp.steps.append(
            CompletedStep(
                type_id=current.type_id,
                type_description=current.type_description,
                files=list(files),
                reconciled=reconciled,
            )
        )
        self.cp.current = None

    # -- one step -----------------------------------------------------------------------------

    async def _do_step(
        self, step: WizardStep, signature: str, excluded: set[int]
    ) -> tuple[WizardStep, int]:
        number = len(self.cp.steps) + 1
        current = self.cp.current
        if current is not None and current.signature != signature:
            current = self.cp.current = None

        supplied: list[tuple[DocumentType, list[Document]]] = []
        for doc_type in step.enabled_types:
            if doc_type.id in excluded:
                continue
            docs = await self._supply(doc_type)
            if docs:
                supplied.append((doc_type, docs))
        if not supplied:
            if excluded:
                raise WizardStalledError(
                    f"step {number} was asked again after every type the provider supplies "
                    "was submitted for it"
                )
            requested = step.enabled_types or step.types
            names = ", ".join(_type_label(t) for t in requested) or "none"
            raise MissingDocumentError(
                f"step {number} asks for document types the provider cannot supply: {names}",
                requested=requested,
            )

        chosen, docs = self._choose(step, supplied, current)
        # Every file is checked before the step's first request, so a bad file costs nothing.
        docs = [await self._validate(doc) for doc in docs]

        reused = current is not None and current.type_id == chosen.id
        wants_events = self._wants_events()  # once per step: cheap, but it adds up
        if current is None or not reused:
            current = self.cp.current = StepInProgress(
                signature=signature, type_id=chosen.id, type_description=chosen.description
            )
        if wants_events:
            await self._emit(
                StepStarted(
                    run_id=self.run_id,
                    step=number,
                    uuid=step.uuid,
                    workflow=step.workflow,
                    type_ids=tuple(t.id for t in step.enabled_types),
                    type_id=chosen.id,
                    file_count=len(docs),
                    resumed=reused,
                )
            )
        paths = await self._upload_all(number, current, docs, wants_events)
        reply, reconciled = await self._submit(number, step, current, paths)
        self._commit(current, paths, reconciled=reconciled)
        if reply.uuid and reply.uuid != self.cp.uuid:
            self.cp.uuid = reply.uuid
        await self._save()
        if wants_events:
            await self._emit(
                StepSubmitted(
                    run_id=self.run_id,
                    step=number,
                    type_id=chosen.id,
                    file_count=len(paths),
                    next_code=reply.code,
                    reconciled=reconciled,
                )
            )
        return reply, chosen.id

    def _choose(
        self,
        step: WizardStep,
        supplied: list[tuple[DocumentType, list[Document]]],
        current: StepInProgress | None,
    ) -> tuple[DocumentType, list[Document]]:
        if current is not None:
            for doc_type, docs in supplied:
                if doc_type.id == current.type_id:
                    return doc_type, docs
        choice = self.r.type_policy(step, [t for t, _ in supplied])
        for doc_type, docs in supplied:
            if doc_type.id == getattr(choice, "id", None):
                return doc_type, docs
        raise ConfigurationError("the type policy returned a type that was not offered to it")

    async def _supply(self, doc_type: DocumentType) -> list[Document] | None:
        try:
            found = await self.r.provider.documents_for(doc_type)
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

    # -- uploads ------------------------------------------------------------------------------

    # -- submit -------------------------------------------------------------------------------

    async def _submit(
        self, number: int, step: WizardStep, current: StepInProgress, paths: list[str]
    ) -> tuple[WizardStep, bool]:
        """Submit the step exactly once; returns the next step and whether it was reconciled."""
        attempt = 1
        while True:
            current.submit_in_flight = True
            current.submitted_files = list(paths)
            await self._save()
            try:
                reply = await self.r.client.wizard.submit(step.uuid, current.type_id, list(paths))
            except ConflictError:
                # A resend refused as a conflict: the earlier, timed-out submit was committed
                # after all (the server answers 409 to a repeat of a committed step).
                if attempt == 1:
                    raise
                now = await self._read()
                if step_signature(now) == current.signature:
                    raise
                return now, True
            except OutcomeUnknownError as exc:
                # Never resend blindly: read where the server is. An error here ends the run
                # with the checkpoint still marking the submit in flight, for the next run.
                if isinstance(exc.cause, APITimeoutError) and self.r.settle_delay:
                    # A timed-out request may still be in the server's hands.
                    await asyncio.sleep(self.r.settle_delay)
                now = await self._read()
                if step_signature(now) != current.signature:
                    return now, True
                current.submit_in_flight = False
                await self._save()
                if attempt >= self.r.max_submit_attempts:
                    raise
                attempt += 1
                await self._retrying(number, "submit", current.type_id, attempt, exc)
                continue
            self._check_code(reply)
            return reply, False

    # -- plumbing -----------------------------------------------------------------------------
