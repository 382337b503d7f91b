"""The submit part of a wizard step: exactly once, reconciled by reading the wizard.

A submit is never resent by the transport (``wizard.submit`` makes one attempt, retrying only
provable never-sent connect errors). Whatever leaves its outcome in doubt (a timeout, a reset,
429, 5xx, an empty or non-envelope 2xx reply) is reconciled here: settle (a delay growing per
attempt, so a server still processing the request can commit it), read the wizard, and resend
only if the server still shows the step. A 409 or 400 answering a resend is reconciled the same
way, whatever the attempt number.
"""

from __future__ import annotations

from enum import Enum

from ..errors import (
    APIConnectionError,
    BadRequestError,
    ConflictError,
    OutcomeUnknownError,
    ProtocolError,
)
from ..models import WIZARD_FINAL, WIZARD_INTERMEDIATE, WizardStep
from .checkpoint import StepInProgress, step_signature
from .retrying import is_transient
from .uploads import UploadingRun

__all__ = ["Relation", "SubmittingRun", "relation"]


class Relation(Enum):
    """How a step the server shows relates to the step that was submitted."""

    MOVED = "moved"
    """Another page (or the end): the submit was committed."""
    SAME = "same"
    """The very same page: nothing was committed."""
    FEWER = "fewer"
    """The same page asking for fewer of its types: the submitted type was refused."""


def relation(before: WizardStep, before_signature: str, now: WizardStep) -> Relation:
    """Whether ``now`` is the step ``before`` again (refused or not committed) or another."""
    if step_signature(now) == before_signature:
        return Relation.SAME
    if (
        now.code == WIZARD_INTERMEDIATE
        and now.workflow == before.workflow
        and (not now.uuid or not before.uuid or now.uuid == before.uuid)
    ):
        ids = {t.id for t in now.types}
        if ids and ids < {t.id for t in before.types}:
            return Relation.FEWER
    return Relation.MOVED


class SubmittingRun(UploadingRun):
    """A run's state, the upload half and the submit half of a step."""

    async def _read(self, number: int | None = None) -> WizardStep:
        """The wizard's current step, read again on transient failures (an idempotent GET)."""
        step = await self._retry_call(
            "read", number or len(self.cp.steps) + 1, None, self.r.client.wizard.start
        )
        self._check_code(step)
        return step

    @staticmethod
    def _check_code(step: WizardStep) -> None:
        if step.code not in (WIZARD_INTERMEDIATE, WIZARD_FINAL):
            raise ProtocolError(f"the wizard step has an unknown code {step.code}")

    async def _submit(
        self,
        number: int,
        step: WizardStep,
        current: StepInProgress,
        paths: list[str],
        *,
        in_doubt: bool = False,
    ) -> tuple[WizardStep, bool]:
        """Submit the step exactly once.

        Returns the server's reply (``reconciled`` False), or the step read from the wizard
        after an ambiguous outcome (``reconciled`` True: it is not ``SAME`` as ``step``).
        ``in_doubt``: an earlier attempt (of a previous run) may have reached the server.
        """
        doubts = 0  # ambiguous outcomes so far: each makes the next settle longer
        conflicts = 0  # 409/400 answers to resends while the wizard still showed the step
        transient = 0
        while True:
            if doubts:
                await self._settle(doubts)
                now = await self._read(number)
                if relation(step, current.signature, now) is not Relation.SAME:
                    return now, True
                # Still the same step: the earlier attempt did not commit; send it again.
                await self._retrying(number, "submit", current.type_id, doubts + 1, self.last_error)
            current.submit_in_flight = True
            current.submitted_files = list(paths)
            await self._save()
            try:
                reply = await self.r.client.wizard.submit(step.uuid, current.type_id, list(paths))
            except ProtocolError as exc:
                if exc.transient:
                    raise  # not raised by ``submit`` (an unreadable 2xx is an unknown outcome)
                # A 2xx error object: the server says no, unless the wizard moved regardless.
                now = await self._read(number)
                if relation(step, current.signature, now) is not Relation.SAME:
                    return now, True
                raise
            except OutcomeUnknownError as exc:
                # Never resend blindly: the server may hold (or have committed) this submit.
                # An error ending the run leaves the checkpoint marking it in flight.
                self.last_error = exc.cause
                if _answered(exc):
                    return await self._after_empty_reply(number, step, current)
                doubts += 1
                in_doubt = True
                continue
            except (ConflictError, BadRequestError) as exc:
                if not in_doubt and not isinstance(exc, ConflictError):
                    raise  # a first submit refused as invalid: the server's word stands
                # A resend (or a repeat of another tab's submit) refused: read where we are.
                conflicts += 1
                now = await self._read(number)
                if relation(step, current.signature, now) is not Relation.SAME:
                    return now, True
                if conflicts >= self.r.max_submit_attempts:
                    raise
                self.last_error = exc
                doubts += 1
                in_doubt = True
                continue
            except APIConnectionError as exc:
                # Not an unknown outcome: the transport proved it never left (connect errors).
                if not is_transient(exc):
                    raise
                self.last_error = exc
                transient += 1
                current.submit_in_flight = in_doubt
                await self._retrying(number, "submit", current.type_id, transient + 1, exc)
                await self._backoff(transient)
                continue
            self._check_code(reply)
            return reply, False

    async def _after_empty_reply(
        self, number: int, step: WizardStep, current: StepInProgress
    ) -> tuple[WizardStep, bool]:
        """A 2xx reply that says nothing: the server took the submit. Let it process, read;
        a step still shown after the settles was refused, and is not sent again."""
        now = step
        for attempt in range(1, _EMPTY_REPLY_READS + 1):
            await self._settle(attempt)
            now = await self._read(number)
            if relation(step, current.signature, now) is not Relation.SAME:
                return now, True
        current.submit_in_flight = False
        return now, False


# Reads (after growing settles) before a step still shown after an empty 2xx reply is taken as
# refused: 2 + 4 s covers a server's "accepted, processing will start later" in practice.
_EMPTY_REPLY_READS = 2


def _answered(exc: OutcomeUnknownError) -> bool:
    """Whether the unknown outcome is a 2xx reply that said nothing (the server took it)."""
    cause = exc.cause
    return (
        isinstance(cause, ProtocolError)
        and cause.status is not None
        and 200 <= cause.status < 300
        and not cause.transient
    )
