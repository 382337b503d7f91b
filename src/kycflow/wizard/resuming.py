"""Resuming a run from a checkpoint: aligning it with the step the server shows now."""

from __future__ import annotations

import json

from ..models import WizardStep
from .checkpoint import Checkpoint, step_signature
from .events import StepSubmitted
from .reporting import Reporter
from .state import LiveCheckpoint, RunState

__all__ = ["resume"]


async def resume(
    state: RunState, loaded: Checkpoint, step: WizardStep, reporter: Reporter
) -> str | None:
    """Adopt ``loaded`` (an unfinished checkpoint) as the run's, aligned with ``step``.

    Returns the signature of a step whose submit may have reached the server though it still
    shows (or None).
    """
    cp = state.cp = LiveCheckpoint.of(loaded)
    cp.run_id = state.run_id
    current = cp.current
    same_procedure = bool(step.uuid) and step.uuid == cp.uuid
    doubt: str | None = None
    if current is not None:
        current.signature = _current_format(current.signature)
    if current is not None and current.submit_in_flight:
        state.resumed = True
        if step_signature(step) != current.signature:
            # The server moved past the step: the in-flight submit was committed.
            state.commit(current, current.submitted_files, reconciled=True)
            await reporter.emit(
                StepSubmitted(
                    run_id=state.run_id,
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
        state.resumed = True
    elif not state.resumed:
        # The checkpoint's procedure is over or replaced; nothing of it applies.
        state.cp = LiveCheckpoint(state.key, state.run_id)
    if step.uuid:
        state.cp.uuid = step.uuid
    return doubt


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
