"""The sandbox's simulated admin review: what happens after a user completes the wizard.

A real back office grants the next level (a new history entry) minutes or days after the last
step, or refuses it. ``Review`` configures that per scenario; ``ReviewDesk`` holds the pending
reviews of one sandbox and settles them lazily (on the user's next request, or an admin call),
so no timer runs and a grant's ``createTime`` is exactly when it fell due.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = ["Decision", "PendingReview", "Review", "ReviewDesk", "ReviewRecord"]

Decision = Literal["grant", "refuse", "manual"]
DECISIONS: tuple[str, ...] = ("grant", "refuse", "manual")
DEFAULT_REFUSAL = "Documents rejected by the reviewer"


@dataclass(frozen=True, slots=True)
class Review:
    """How a completed procedure is reviewed.

    - ``decision``: ``"grant"`` the next level, ``"refuse"`` it (with ``reason``), or
      ``"manual"``: wait for an admin call (``Sandbox.decide`` or ``POST /_sandbox/review``).
    - ``delay``: seconds from the last step to the decision (0: at once, as before);
      ``delay_max`` (when set) draws each delay uniformly from ``[delay, delay_max]``.
    - ``refuse_first``: refuse each user's first N procedures, then apply ``decision``.
    - ``seed``: seeds the delay draws.
    """

    decision: Decision = "grant"
    delay: float = 0.0
    delay_max: float | None = None
    reason: str = DEFAULT_REFUSAL
    refuse_first: int = 0
    seed: int | None = None

    def __post_init__(self) -> None:
        if self.decision not in DECISIONS:
            raise ValueError(f"review decision must be one of {DECISIONS}, not {self.decision!r}")
        if self.delay < 0 or (self.delay_max is not None and self.delay_max < self.delay):
            raise ValueError("review delay must be >= 0 and delay_max >= delay")
        if self.refuse_first < 0:
            raise ValueError("refuse_first must be >= 0")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Review:
        """A review policy from plain data (the scenario file's ``review`` table)."""
        unknown = set(data) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown review option(s): {', '.join(sorted(unknown))}")
        return cls(
            decision=data.get("decision", "grant"),
            delay=float(data.get("delay", 0.0)),
            delay_max=None if data.get("delay_max") is None else float(data["delay_max"]),
            reason=str(data.get("reason", DEFAULT_REFUSAL)),
            refuse_first=int(data.get("refuse_first", 0)),
            seed=None if data.get("seed") is None else int(data["seed"]),
        )

    def to_dict(self) -> dict[str, Any]:
        """The policy as plain data (``from_dict`` reads it back)."""
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


@dataclass(slots=True)
class PendingReview:
    """A completed procedure awaiting its decision. ``due`` is None for a manual review."""

    email: str
    procedure: str
    completed_at: float
    due: float | None
    decision: Decision


@dataclass(frozen=True, slots=True)
class ReviewRecord:
    """A decided review: ``decision`` is ``"grant"`` or ``"refuse"``; ``at`` is when."""

    email: str
    procedure: str
    decision: str
    reason: str | None
    completed_at: float
    at: float


@dataclass
class ReviewDesk:
    """The pending reviews and decisions of one sandbox (keyed by user email)."""

    review: Review
    pending: dict[str, PendingReview] = field(default_factory=dict)
    decided: list[ReviewRecord] = field(default_factory=list)
    refusals: dict[str, str] = field(default_factory=dict)
    _completed: dict[str, int] = field(default_factory=dict)
    _rng: random.Random = field(init=False)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.review.seed)

    def open(self, email: str, procedure: str, now: float) -> PendingReview:
        """Queue the review of a procedure just completed."""
        review = self.review
        count = self._completed.get(email, 0) + 1
        self._completed[email] = count
        decision: Decision = "refuse" if count <= review.refuse_first else review.decision
        delay = review.delay
        if review.delay_max is not None:
            delay = self._rng.uniform(review.delay, review.delay_max)
        due = None if decision == "manual" else now + delay
        pending = PendingReview(email, procedure, now, due, decision)
        self.pending[email] = pending
        self.refusals.pop(email, None)
        return pending

    def settle(self, email: str, now: float, grant: Callable[[float], None]) -> None:
        """Decide the user's pending review if its time has come (``grant(at)`` grants)."""
        pending = self.pending.get(email)
        if pending is None or pending.due is None or pending.due > now:
            return
        del self.pending[email]
        self._decide(pending, pending.decision, None, pending.due, grant)

    def decide(
        self,
        email: str,
        decision: str,
        reason: str | None,
        now: float,
        grant: Callable[[float], None],
    ) -> ReviewRecord:
        """An admin's decision on the user's pending review, now (KeyError if none)."""
        if decision not in ("grant", "refuse"):
            raise ValueError("decision must be 'grant' or 'refuse'")
        pending = self.pending.pop(email, None)
        if pending is None:
            raise KeyError(f"no review pending for {email}")
        return self._decide(pending, decision, reason, now, grant)

    def _decide(
        self,
        pending: PendingReview,
        decision: str,
        reason: str | None,
        at: float,
        grant: Callable[[float], None],
    ) -> ReviewRecord:
        if decision == "grant":
            grant(at)
            reason = None
        else:
            reason = reason or self.review.reason
            self.refusals[pending.email] = reason  # shown by the user's next wizard
        p = pending
        record = ReviewRecord(p.email, p.procedure, decision, reason, p.completed_at, at)
        self.decided.append(record)
        return record

    def clear(self) -> None:
        """Forget every review."""
        self.pending.clear()
        self.decided.clear()
        self.refusals.clear()
        self._completed.clear()
