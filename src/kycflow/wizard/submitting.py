"""The submit part of a wizard step: exactly once, reconciled by reading the wizard.

A submit is never resent by the transport (``wizard.submit`` makes one attempt, retrying only
provable never-sent connect errors). Whatever leaves its outcome in doubt (a timeout, a reset,
429, 5xx, an empty or non-envelope 2xx reply) is reconciled here: settle (a delay growing per
attempt, so a server still processing the request can commit it), read the wizard, and resend
only if the server still shows the step. A 409 or 400 answering a resend is reconciled the same
way, whatever the attempt number.
"""

from __future__ import annotations

import json
from enum import Enum

from ..errors import (
    APIConnectionError,
    BadRequestError,
    ConflictError,
    OutcomeUnknownError,
    ProtocolError,
)
from ..models.wizard import WIZARD_FINAL, WIZARD_INTERMEDIATE, WizardStep
from .checkpoint import step_signature
from .pacing import Pacer
from .results import WizardAPI
from .retrying import is_transient
from .state import LiveStepInProgress, RunState

__all__ = ["Relation", "Submitter", "check_code", "relation"]


class Relation(Enum):
    """How a step the server shows relates to the step that was submitted."""

    MOVED = "moved"
    """Another page (or the end): the submit was committed."""
    SAME = "same"
    """The very same page: nothing was committed."""
    FEWER = "fewer"
    """The same page asking for fewer of its types: the submitted type was refused."""


def relation(before_signature: str, now: WizardStep, now_signature: str | None = None) -> Relation:
    """Whether ``now`` is the step of ``before_signature`` (its ``step_signature``) again,
    refused or not committed, or another (``now_signature``: ``now``'s, when the caller has
    it already)."""
    if (now_signature or step_signature(now)) == before_signature:
        return Relation.SAME
    if now.code == WIZARD_INTERMEDIATE:
        uuid, _, workflow, type_ids = json.loads(before_signature)
        if now.workflow == workflow and (not now.uuid or not uuid or now.uuid == uuid):
            ids = {t.id for t in now.types}
            if ids and ids < set(type_ids):
                return Relation.FEWER
    return Relation.MOVED


class _Attempts:
    """What one step's submit has met so far."""

    __slots__ = ("conflicts", "doubts", "in_doubt", "transient")

    def __init__(self, in_doubt: bool) -> None:
        self.doubts = 0  # ambiguous outcomes so far: each makes the next settle longer
        self.conflicts = 0  # 409/400 answers to resends while the wizard still showed the step
        self.transient = 0
        self.in_doubt = in_doubt  # an earlier attempt may have reached the server

    def doubt(self) -> None:
        self.doubts += 1
        self.in_doubt = True


_Reply = tuple[WizardStep, bool]


class Submitter:
    """Reads the wizard and submits steps exactly once, for one run."""

    __slots__ = ("_max_attempts", "_pacer", "_state", "_wizard")

    def __init__(self, wizard: WizardAPI, state: RunState, pacer: Pacer, max_attempts: int) -> None:
        self._wizard = wizard
        self._state = state
        self._pacer = pacer
        self._max_attempts = max_attempts

    async def read(self, number: int | None = None) -> WizardStep:
        """The wizard's current step, read again on transient failures (an idempotent GET)."""
        step = await self._pacer.retry_call(
            "read", number or self._state.number, None, self._wizard.start
        )
        check_code(step)
        return step

    async def submit(
        self,
        number: int,
        uuid: str,
        current: LiveStepInProgress,
        paths: list[str],
        *,
        in_doubt: bool = False,
    ) -> _Reply:
        """Submit the step (the wizard procedure ``uuid``, ``current``'s type) exactly once.

        Returns the server's reply (``reconciled`` False), or the step read from the wizard
        after an ambiguous outcome (``reconciled`` True: it is not ``SAME`` as the step).
        ``in_doubt``: an earlier attempt (of a previous run) may have reached the server.
        """
        tried = _Attempts(in_doubt)
        while True:
            if tried.doubts:
                await self._pacer.settle(tried.doubts)
                now = await self.read(number)
                if relation(current.signature, now) is not Relation.SAME:
                    return now, True
                # Still the same step: the earlier attempt did not commit; send it again.
                await self._pacer.retrying(
                    number, "submit", current.type_id, tried.doubts + 1, self._state.last_error
                )
            current.submit_in_flight = True
            current.submitted_files = list(paths)
            await self._state.save()
            outcome = await self._attempt(number, uuid, current, paths, tried)
            if outcome is not None:
                return outcome

    async def _attempt(
        self,
        number: int,
        uuid: str,
        current: LiveStepInProgress,
        paths: list[str],
        tried: _Attempts,
    ) -> _Reply | None:
        """One submit: its outcome, or None to go round again."""
        try:
            reply = await self._wizard.submit(uuid, current.type_id, list(paths))
        except ProtocolError as exc:
            if exc.transient:
                raise  # not raised by ``submit`` (an unreadable 2xx is an unknown outcome)
            # A 2xx error object: the server says no, unless the wizard moved regardless.
            return await self._moved_or_raise(number, current, exc)
        except OutcomeUnknownError as exc:
            # Never resend blindly: the server may hold (or have committed) this submit.
            # An error ending the run leaves the checkpoint marking it in flight.
            self._state.last_error = exc.cause
            if _answered(exc):
                return await self._after_empty_reply(number, current)
            tried.doubt()
            return None
        except (ConflictError, BadRequestError) as exc:
            if not tried.in_doubt and not isinstance(exc, ConflictError):
                raise  # a first submit refused as invalid: the server's word stands
            # A resend (or a repeat of another tab's submit) refused: read where we are.
            tried.conflicts += 1
            if tried.conflicts < self._max_attempts:
                return await self._moved_or_doubt(number, current, exc, tried)
            return await self._moved_or_raise(number, current, exc)
        except APIConnectionError as exc:
            # Not an unknown outcome: the transport proved it never left (connect errors).
            if not is_transient(exc):
                raise
            self._state.last_error = exc
            tried.transient += 1
            current.submit_in_flight = tried.in_doubt
            await self._pacer.retrying(number, "submit", current.type_id, tried.transient + 1, exc)
            await self._pacer.backoff(tried.transient)
            return None
        check_code(reply)
        return reply, False

    async def _moved_or_raise(
        self, number: int, current: LiveStepInProgress, exc: Exception
    ) -> _Reply:
        now = await self.read(number)
        if relation(current.signature, now) is not Relation.SAME:
            return now, True
        raise exc

    async def _moved_or_doubt(
        self,
        number: int,
        current: LiveStepInProgress,
        exc: Exception,
        tried: _Attempts,
    ) -> _Reply | None:
        now = await self.read(number)
        if relation(current.signature, now) is not Relation.SAME:
            return now, True
        self._state.last_error = exc
        tried.doubt()
        return None

    async def _after_empty_reply(self, number: int, current: LiveStepInProgress) -> _Reply:
        """A 2xx reply that says nothing: the server took the submit. Let it process, read;
        a step still shown after the settles was refused, and is not sent again."""
        attempt = 0
        while True:
            attempt += 1
            await self._pacer.settle(attempt)
            now = await self.read(number)
            if relation(current.signature, now) is not Relation.SAME:
                return now, True
            if attempt >= _EMPTY_REPLY_READS:
                current.submit_in_flight = False
                return now, False


def check_code(step: WizardStep) -> None:
    """Raise ``ProtocolError`` for a step whose code is neither 200 nor 202."""
    if step.code not in (WIZARD_INTERMEDIATE, WIZARD_FINAL):
        raise ProtocolError(f"the wizard step has an unknown code {step.code}")


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
