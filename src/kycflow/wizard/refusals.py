"""A step's outcome, and the refusals of one step in a row (the stall limit)."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import StepRefusedError
from ..models import WizardStep

__all__ = ["Refusals", "StepOutcome"]

# Shared by every run that has no refusal: ``frozenset()`` is a new 216-byte object each time.
_NONE_REFUSED: frozenset[int] = frozenset()


@dataclass(frozen=True, slots=True)
class StepOutcome:
    """The page after a step (and its ``step_signature``), the type submitted, and whether the
    server refused it."""

    step: WizardStep
    signature: str
    type_id: int
    refused: bool = False
    reason: str | None = None


class Refusals:
    """The refusals of the step being worked on, in a row."""

    __slots__ = ("count", "excluded", "reason")

    def __init__(self) -> None:
        self.count = 0
        self.excluded = _NONE_REFUSED
        """Types refused for this step: never tried twice."""
        self.reason: str | None = None
        """The server's latest reason."""

    def add(self, number: int, outcome: StepOutcome, stall_limit: int) -> None:
        """Count a refusal of step ``number``; ``StepRefusedError`` at ``stall_limit``."""
        self.count += 1
        self.excluded = self.excluded | {outcome.type_id}
        self.reason = outcome.reason or self.reason
        if self.count >= stall_limit:
            reason = self.reason
            raise StepRefusedError(
                f"step {number} was refused {self.count} times in a row"
                + (f": {reason}" if reason else ""),
                step=number,
                type_ids=sorted(self.excluded),
                reason=reason,
            )
