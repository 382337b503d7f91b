"""One ``WizardRunner.run()`` call: the step loop, refusals and the result.

The run composes its collaborators, each given what it needs: the ``RunState`` (checkpoint and
counters), a ``Pacer`` (waits and retries against the deadline), an ``Uploader``, a
``Submitter`` (reads and exactly-once submits), and the runner's ``Chooser`` and ``Reporter``.
"""

from __future__ import annotations

import asyncio

from .. import _telemetry as telemetry
from ..errors import WizardDeadlineError, WizardStepLimitError
from ..models.wizard import WIZARD_INTERMEDIATE, WizardStep
from .checkpoint import step_signature
from .choosing import Chooser, Picked, check_supported
from .events import Completed, Failed, StepRefused, StepStarted, StepSubmitted
from .options import RunnerOptions
from .pacing import Pacer, RunDeadline, deadline_error
from .refusals import Refusals, StepOutcome
from .reporting import Reporter, log
from .results import (
    OUTCOME_COMPLETED,
    OUTCOME_ENDED_WITHOUT_SUCCESS,
    WizardClient,
    WizardResult,
    result_of,
)
from .resuming import resume
from .state import LiveStepInProgress, RunState
from .submitting import Relation, Submitter, relation
from .uploads import Uploader, validate

__all__ = ["Run"]

_FAILED_MESSAGE_CHARS = 300


class Run:
    """One run of a runner: its state and its collaborators."""

    __slots__ = (
        "_chooser",
        "_files",
        "_options",
        "_pacer",
        "_reporter",
        "_submitter",
        "_uploader",
        "state",
    )

    def __init__(
        self,
        client: WizardClient,
        chooser: Chooser,
        reporter: Reporter,
        options: RunnerOptions,
        run_id: str,
    ) -> None:
        state = RunState(run_id, options.checkpoint_key or run_id, options.checkpoint_store)
        pacer = Pacer(state, options, reporter)
        self.state = state
        self._pacer = pacer
        self._options = options
        self._chooser = chooser
        self._reporter = reporter
        self._files = client.files
        self._uploader = Uploader(client.files, state, pacer, reporter, options.upload_concurrency)
        self._submitter = Submitter(client.wizard, state, pacer, options.max_submit_attempts)

    async def execute(self) -> WizardResult:
        """The run, from loading its checkpoint to the wizard's end."""
        # The deadline, the step loop and the failure report in one frame: each of thousands
        # of runs waiting at once holds it.
        state = self.state
        deadline = RunDeadline(self._options.deadline)
        try:
            step, doubt = await self._begin()
            refusals = Refusals()
            signature = step_signature(step)  # once per step: it is compared, and checkpointed
            while not step.is_final:
                number = state.number
                check_supported(step, number)
                if len(state.cp.steps) >= self._options.max_steps:
                    raise WizardStepLimitError(
                        f"the wizard asked for more than max_steps={self._options.max_steps} steps"
                    )
                with telemetry.step_span(number) as span:
                    picked = await self._pick(
                        step, signature, refusals, in_doubt=doubt == signature
                    )
                    # No run holds the page's model (about 1.2 KB) while it sends, nor (the
                    # ``del``s below) what it picked once sent, nor the next page twice.
                    del step
                    outcome = await self._send(number, picked, signature)
                    del picked
                    if outcome.refused:
                        span.refused(outcome.type_id)
                    else:
                        span.committed(state.cp.steps[-1], refused=False)
                doubt = None
                if outcome.refused:
                    refusals.add(number, outcome, self._options.stall_limit)
                elif refusals.count:
                    refusals = Refusals()
                step, signature = outcome.step, outcome.signature
                del outcome
            return await self._finish(step)
        except asyncio.CancelledError as exc:
            if not deadline.stop():  # cancelled by someone else: as it is
                log.info("wizard.cancelled", run_id=state.run_id, step=state.number)
                raise
            await self._failed(error := deadline_error(self._options.deadline, state.last_error))
            raise error from exc
        except Exception as exc:
            deadline.stop()  # before the report is awaited: the timer cannot fire during it
            # A timeout while the deadline had passed is the deadline's, whoever else cancelled.
            if (
                deadline.expired
                and isinstance(exc, TimeoutError)
                and not isinstance(exc, WizardDeadlineError)
            ):
                await self._failed(
                    error := deadline_error(self._options.deadline, state.last_error)
                )
                raise error from exc
            await self._failed(exc)
            raise
        finally:  # also on success, and a KeyboardInterrupt's way out: no timer left behind
            deadline.stop()

    async def _failed(self, exc: Exception) -> None:
        state = self.state
        await self._reporter.emit(
            Failed(
                run_id=state.run_id,
                step=state.number,
                error=type(exc).__name__,
                message=str(exc)[:_FAILED_MESSAGE_CHARS],
            )
        )

    async def _begin(self) -> tuple[WizardStep, str | None]:
        """Load and align the checkpoint; the server's step and the signature in doubt."""
        state = self.state
        loaded = await state.store.load(state.key) if state.store is not None else None
        if loaded is not None and not loaded.done and loaded.submit_in_flight:
            # The crashed run's submit may still be in the server's hands: let it land first.
            await self._pacer.settle(1)
        step = await self._submitter.read()
        doubt: str | None = None
        if loaded is not None and not loaded.done:
            doubt = await resume(state, loaded, step, self._reporter)
        else:
            # The checkpoint made with the state is still untouched: give it the uuid.
            state.cp.uuid = step.uuid or None
        await state.save()
        return step, doubt

    async def _pick(
        self, step: WizardStep, signature: str, refusals: Refusals, *, in_doubt: bool
    ) -> Picked:
        """The type and files to send for ``step``, checked; its ``StepStarted``."""
        state = self.state
        number = state.number
        current = state.cp.current
        if current is not None and current.signature != signature:
            current = state.cp.current = None
        supplied = await self._chooser.supplied(step, number, refusals.excluded, refusals.reason)
        chosen, docs = self._chooser.choose(step, supplied, current)
        # Every file is checked, with the client's limits, before the step's first request,
        # so a bad file costs nothing. In place: the list is the chooser's own copy.
        for index, doc in enumerate(docs):
            docs[index] = await validate(self._files, doc)
        reused = current is not None and current.type_id == chosen.id
        wants_events = self._reporter.wants()  # once per step: cheap, but it adds up
        if current is None or not reused:
            current = state.cp.current = LiveStepInProgress(
                signature, chosen.id, chosen.description
            )
        if wants_events:
            await self._reporter.emit(
                StepStarted(
                    run_id=state.run_id,
                    step=number,
                    uuid=step.uuid,
                    workflow=step.workflow,
                    type_ids=tuple(t.id for t in step.enabled_types),
                    type_id=chosen.id,
                    file_count=len(docs),
                    resumed=reused,
                )
            )
        supplied_ids = tuple(t.id for t, _ in supplied)
        return Picked(step.uuid, current, docs, supplied_ids, in_doubt and reused, wants_events)

    async def _send(self, number: int, picked: Picked, signature: str) -> StepOutcome:
        """Upload the picked files, submit them once, and read what the server made of it."""
        current, uuid = picked.current, picked.uuid
        paths = await self._uploader.upload_all(number, current, picked.docs, picked.wants_events)
        reply, reconciled = await self._submitter.submit(
            number, uuid, current, paths, in_doubt=picked.in_doubt
        )
        said = reply.reason()
        if not reconciled and reply.code == WIZARD_INTERMEDIATE and not reply.types:
            # An echo of the submitted types, not the next page: read the page.
            reply = await self._submitter.read(number)
        reply_signature = step_signature(reply)  # once: compared here, then the next step's
        if relation(signature, reply, reply_signature) is not Relation.MOVED:
            return await self._refused(
                number, current, reply, said, picked.supplied_ids, reply_signature
            )
        await self._committed(uuid, current, paths, reply, reconciled=reconciled)
        return StepOutcome(reply, reply_signature, current.type_id)

    async def _committed(
        self,
        uuid: str,
        current: LiveStepInProgress,
        paths: list[str],
        reply: WizardStep,
        *,
        reconciled: bool,
    ) -> None:
        state = self.state
        number = state.number
        state.commit(current, paths, reconciled=reconciled)
        # Another procedure shown after the commit (a reply or read that skipped the 202):
        # the server closed this one and opened the next level's. The run ends here.
        replaced = bool(
            reply.code == WIZARD_INTERMEDIATE and reply.uuid and uuid and reply.uuid != uuid
        )
        if reply.uuid and reply.uuid != state.cp.uuid and not replaced:
            state.cp.uuid = reply.uuid
        await state.save()
        if self._reporter.wants():
            await self._reporter.emit(
                StepSubmitted(
                    run_id=state.run_id,
                    step=number,
                    type_id=current.type_id,
                    file_count=len(paths),
                    next_code=reply.code,
                    reconciled=reconciled,
                )
            )

    async def _refused(
        self,
        number: int,
        current: LiveStepInProgress,
        reply: WizardStep,
        reason: str | None,
        supplied_ids: tuple[int, ...],
        signature: str,
    ) -> StepOutcome:
        """The server asked for the step again: the submit was refused, nothing committed."""
        reason = reason or reply.reason()
        self.state.cp.current = None  # its files were refused with it
        await self.state.save()
        offered = {t.id for t in reply.enabled_types}
        left = tuple(i for i in supplied_ids if i != current.type_id and i in offered)
        await self._reporter.emit(
            StepRefused(
                run_id=self.state.run_id,
                step=number,
                type_id=current.type_id,
                reason=reason,
                retry_type_ids=left,
            )
        )
        return StepOutcome(reply, signature, current.type_id, refused=True, reason=reason)

    async def _finish(self, step: WizardStep) -> WizardResult:
        state = self.state
        cp = state.cp
        cp.current = None
        cp.done = True
        await state.save()
        outcome = OUTCOME_COMPLETED if step.succeeded else OUTCOME_ENDED_WITHOUT_SUCCESS
        if outcome != OUTCOME_COMPLETED:
            log.warning("wizard.ended_without_success", run_id=state.run_id, workflow=step.workflow)
        uuid = cp.uuid or step.uuid or ""
        if self._reporter.wants():
            await self._reporter.emit(
                Completed(
                    run_id=state.run_id,
                    step=len(cp.steps),
                    uuid=uuid,
                    workflow=step.workflow,
                    retries=state.retries,
                    resumed=state.resumed,
                    outcome=outcome,
                )
            )
        return result_of(
            cp, step, run_id=state.run_id, retries=state.retries, resumed=state.resumed
        )
