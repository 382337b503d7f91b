"""WizardRunner: drives the verification wizard from its first step to its end.

Each step: pick one of the step's enabled document types that the file provider can supply,
validate its files (with the client's limits), upload them (concurrently, bounded), submit them,
and learn the next page: the submit reply when it carries Document Type objects, else the wizard
read again. Only code 202 ends the wizard. A reply asking for the same step again is a refusal:
nothing is committed, the next supplied type is tried. Submits are made exactly once: when a
submit's outcome is unknown, the runner settles, re-reads the wizard and resends only if the
server still shows the step. Transient failures are retried while the run's deadline allows.
Progress is saved to a checkpoint after every upload and around every submit, so a crashed run
can resume.

The runner uses only the client's public API (``client.wizard.start``, ``client.wizard.submit``,
``client.files.upload``), typed by the small ``WizardClient`` protocol (in ``_run_types``).
"""

from __future__ import annotations

import asyncio
import json
import random
import uuid as uuid_lib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from structlog.contextvars import bound_contextvars

from .. import _telemetry as telemetry
from .._constants import (
    DEFAULT_MAX_STEPS,
    DEFAULT_MAX_SUBMIT_ATTEMPTS,
    DEFAULT_RUN_DEADLINE,
    DEFAULT_SETTLE_DELAY,
    DEFAULT_STALL_LIMIT,
    DEFAULT_UPLOAD_CONCURRENCY,
)
from ..documents import Document
from ..errors import (
    ConfigurationError,
    StepRefusedError,
    WizardDeadlineError,
    WizardStepLimitError,
)
from ..models import WIZARD_INTERMEDIATE, DocumentType, WizardStep
from .checkpoint import Checkpoint, CheckpointStore, CompletedStep, StepInProgress, step_signature
from .choosing import ChoosingRun
from .events import Completed, Failed, StepRefused, StepStarted, StepSubmitted
from .leases import hold_lease
from .providers import FileProvider
from .results import (
    OUTCOME_COMPLETED,
    OUTCOME_ENDED_WITHOUT_SUCCESS,
    EventCallback,
    StepResult,
    TypePolicy,
    WizardClient,
    WizardResult,
    first_supplied,
)
from .results import FilesAPI as FilesAPI
from .results import WizardAPI as WizardAPI
from .state import describe_cause
from .submitting import Relation, relation

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
    - ``stall_limit``: a step refused (asked again) this many times in a row raises
      ``StepRefusedError`` (a ``WizardStalledError``). After each refusal (a ``StepRefused``
      event with the server's reason) the runner tries another supplied type, never one type
      twice for one step; with none left it raises ``StepRefusedError`` with the reason.
    - ``max_submit_attempts``: how many 409/400 answers to resends are reconciled while the
      wizard still shows the step, before the error is raised.
    - ``settle_delay``: seconds to wait after an ambiguous submit (timeout, reset, 429, 5xx,
      an empty 2xx reply) before reading the wizard, so that a server still processing the
      request can commit it first; doubled per further attempt up to 30 s. Also waited on
      resume when the checkpoint says a submit was in flight.
    - ``sleep``/``rng``: the waits' clock (default ``asyncio.sleep``) and randomness (inject
      a fake clock in tests).

    Transient failures of idempotent calls (reading the wizard, uploads, an upload whose
    outcome is unknown included) are retried with capped exponential backoff and full jitter
    while ``deadline`` allows; the run fails only on a non-transient error, or at its deadline
    with ``WizardDeadlineError`` naming the last transient failure.

    Reconciliation assumes what the wizard contract promises: a committed submit changes the
    step (its uuid, code, workflow or types) or, by re-asking, is indistinguishable from a
    refusal. A server that commits an ambiguous submit later than the settle delay can still
    see a resend; it refuses it as a conflict (409) or as invalid (400), which the runner
    reconciles by reading the wizard.
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
        sleep: Callable[[float], Awaitable[None]] | None = None,
        rng: random.Random | None = None,
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
        self.sleep = sleep
        self.rng = rng

    def __repr__(self) -> str:
        return f"WizardRunner(provider={self.provider!r}, checkpoint_key={self.checkpoint_key!r})"

    async def run(self) -> WizardResult:
        """Drive the wizard to its final step and return what was done.

        The result's ``outcome`` tells a success from a wizard that ended (202) without one.
        Raises ``MissingDocumentError``, ``DocumentError``, ``StepRefusedError``,
        ``UnsupportedWizardError``, ``WizardStepLimitError``, ``WizardDeadlineError``,
        ``ProtocolError`` or the client's non-transient error that ended the run; the
        checkpoint then holds everything known to be stored or committed. Cancellation
        propagates after the step's uploads are cancelled.
        """
        run = _Run(self, self.run_id or uuid_lib.uuid4().hex)
        # One run per key: a store that leases holds the key for the whole run.
        async with hold_lease(self.checkpoint_store, self.checkpoint_key, run.run_id):
            with bound_contextvars(run_id=run.run_id), telemetry.run_span(run.run_id, run):
                return await run.execute()


class _Run(ChoosingRun):
    """One ``run()`` call: the run loop, resuming, refusals and results."""

    # -- the run ------------------------------------------------------------------------------

    async def execute(self) -> WizardResult:
        try:
            try:
                async with asyncio.timeout(self.r.deadline) as scope:
                    return await self._drive()
            except TimeoutError as exc:
                if scope.expired() and not isinstance(exc, WizardDeadlineError):
                    raise WizardDeadlineError(
                        f"the wizard run did not finish within {self.r.deadline} seconds; "
                        f"last transient failure: {describe_cause(self.last_error)}",
                        last_error=self.last_error,
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
        in_flight = (
            loaded is not None
            and not loaded.done
            and loaded.current is not None
            and loaded.current.submit_in_flight
        )
        if in_flight:
            # The crashed run's submit may still be in the server's hands: let it land first.
            await self._settle(1)
        step = await self._read()
        doubt: str | None = None
        if loaded is not None and not loaded.done:
            self.cp = loaded
            self.cp.run_id = self.run_id
            doubt = await self._resume(step)
        else:
            # The checkpoint made in ``__init__`` is still untouched: give it the uuid.
            self.cp.uuid = step.uuid or None
        await self._save()

        excluded: set[int] = set()
        refusals = 0
        reason: str | None = None
        signature = step_signature(step)  # once per step: it is compared, and checkpointed
        while not step.is_final:
            number = len(self.cp.steps) + 1
            self._check_supported(step, number)
            if len(self.cp.steps) >= self.r.max_steps:
                raise WizardStepLimitError(
                    f"the wizard asked for more than max_steps={self.r.max_steps} steps"
                )
            with telemetry.step_span(number) as span:
                outcome = await self._do_step(
                    step, signature, excluded, reason, in_doubt=doubt == signature
                )
                if outcome.refused:
                    span.refused(outcome.type_id)
                else:
                    span.committed(self.cp.steps[-1], refused=False)
            doubt = None
            if outcome.refused:
                refusals += 1
                excluded.add(outcome.type_id)
                reason = outcome.reason or reason
                if refusals >= self.r.stall_limit:
                    raise StepRefusedError(
                        f"step {number} was refused {refusals} times in a row"
                        + (f": {reason}" if reason else ""),
                        step=number,
                        type_ids=sorted(excluded),
                        reason=reason,
                    )
            else:
                refusals = 0
                excluded = set()
                reason = None
            step = outcome.step
            signature = step_signature(step)
        return await self._finish(step)

    async def _finish(self, step: WizardStep) -> WizardResult:
        self.cp.current = None
        self.cp.done = True
        await self._save()
        outcome = OUTCOME_COMPLETED if step.succeeded else OUTCOME_ENDED_WITHOUT_SUCCESS
        if outcome != OUTCOME_COMPLETED:
            self.log.warning("wizard.ended_without_success", workflow=step.workflow)
        if self._wants_events():
            await self._emit(
                Completed(
                    run_id=self.run_id,
                    step=len(self.cp.steps),
                    uuid=self.cp.uuid or step.uuid or "",
                    workflow=step.workflow,
                    retries=self.retries,
                    resumed=self.resumed,
                    outcome=outcome,
                )
            )
        return WizardResult(
            run_id=self.run_id,
            uuid=self.cp.uuid or step.uuid or "",
            done=outcome == OUTCOME_COMPLETED,
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
            outcome=outcome,
        )

    async def _resume(self, step: WizardStep) -> str | None:
        """Align a loaded checkpoint with the server's current step; returns the signature of
        a step whose submit may have reached the server though it still shows (or None)."""
        cp = self.cp
        current = cp.current
        same_procedure = bool(step.uuid) and step.uuid == cp.uuid
        doubt: str | None = None
        if current is not None:
            current.signature = _current_format(current.signature)
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
                doubt = current.signature
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
        return doubt

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
        self,
        step: WizardStep,
        signature: str,
        excluded: set[int],
        reason: str | None,
        *,
        in_doubt: bool,
    ) -> _StepOutcome:
        number = len(self.cp.steps) + 1
        current = self.cp.current
        if current is not None and current.signature != signature:
            current = self.cp.current = None

        supplied = await self._supplied(step, number, excluded, reason)
        chosen, docs = self._choose(step, supplied, current)
        # Every file is checked, with the client's limits, before the step's first request,
        # so a bad file costs nothing.
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
        reply, reconciled = await self._submit(
            number, step, current, paths, in_doubt=in_doubt and reused
        )
        said = reply.reason()
        if not reconciled and reply.code == WIZARD_INTERMEDIATE and not reply.types:
            # An echo of the submitted types, not the next page: read the page.
            reply = await self._read(number)
        if relation(step, signature, reply) is not Relation.MOVED:
            return await self._refused(number, step, current, reply, said, supplied)
        self._commit(current, paths, reconciled=reconciled)
        # Another procedure shown after the commit (a reply or read that skipped the 202):
        # the server closed this one and opened the next level's. The run ends here.
        replaced = bool(
            reply.code == WIZARD_INTERMEDIATE
            and reply.uuid
            and step.uuid
            and reply.uuid != step.uuid
        )
        if reply.uuid and reply.uuid != self.cp.uuid and not replaced:
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
        return _StepOutcome(reply, chosen.id)

    async def _refused(
        self,
        number: int,
        step: WizardStep,
        current: StepInProgress,
        reply: WizardStep,
        reason: str | None,
        supplied: list[tuple[DocumentType, list[Document]]],
    ) -> _StepOutcome:
        """The server asked for the step again: the submit was refused, nothing committed."""
        reason = reason or reply.reason()
        self.cp.current = None  # its files were refused with it
        await self._save()
        offered = {t.id for t in reply.enabled_types}
        left = tuple(t.id for t, _ in supplied if t.id != current.type_id and t.id in offered)
        await self._emit(
            StepRefused(
                run_id=self.run_id,
                step=number,
                type_id=current.type_id,
                reason=reason,
                retry_type_ids=left,
            )
        )
        return _StepOutcome(reply, current.type_id, refused=True, reason=reason)


def _current_format(signature: str) -> str:
    """A checkpointed signature in today's format: 0.1.0 also held ``done``, which the start
    call and a submit reply word differently for one page (``[uuid, code, done, workflow,
    ids]``); without this a resumed in-flight submit would look committed."""
    try:
        parts = json.loads(signature)
    except ValueError:
        return signature
    if isinstance(parts, list) and len(parts) == 5 and isinstance(parts[2], bool):
        del parts[2]
        return json.dumps(parts, separators=(",", ":"))
    return signature


@dataclass(frozen=True, slots=True)
class _StepOutcome:
    step: WizardStep
    type_id: int
    refused: bool = False
    reason: str | None = None
