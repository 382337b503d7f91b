"""The sandbox's fault vocabulary: the routes faults apply to, the kinds of fault, a decided
``Fault`` and a ``Window`` of faults (re-exported by ``kycflow.testing.faults``)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from enum import StrEnum

__all__ = [
    "ANY_ROUTE",
    "CLASSIC_KINDS",
    "COMMIT_KINDS",
    "KIND_ORDER",
    "LATE_COMMIT_STATUSES",
    "ROUTES",
    "SERVER_ERROR_STATUSES",
    "Fault",
    "FaultKind",
    "Window",
    "parse_kind",
]

ROUTES: tuple[str, ...] = (
    "history",
    "details",
    "wizard",
    "submit",
    "upload",
    "signin_wizard",
    "signin",
    "2fa",
    "refresh",
)
ANY_ROUTE = "*"
SERVER_ERROR_STATUSES: tuple[int, ...] = (500, 502, 503, 504)
LATE_COMMIT_STATUSES: tuple[int, ...] = (500, 504)


class FaultKind(StrEnum):
    """The kinds of fault. The value is the name used in configs and records."""

    SERVER_ERROR = "5xx"
    """A 500/502/503/504 with the JSON error body; nothing is processed."""
    RATE_LIMIT = "429"
    """A 429 with ``Retry-After``; nothing is processed."""
    RESET_BEFORE = "reset_before"
    """The connection is aborted without a reply before anything is processed."""
    RESET_AFTER = "reset_after"
    """The request is processed (a submit or upload is committed), then the connection is
    aborted without a reply."""
    SLOW = "slow"
    """The reply is delayed by ``Faults.slow_delay`` seconds, then processed normally."""
    MALFORMED_JSON = "malformed_json"
    """The request is processed, then the reply body is cut short (invalid JSON)."""
    HTML_ERROR = "html"
    """A 502 HTML page, as from a proxy; nothing is processed."""
    COMMIT_503 = "commit_503"
    """The request is processed (committed), then answered 503 with ``Retry-After``, as by a
    gateway in front of a server that did commit."""
    COMMIT_429 = "commit_429"
    """The request is processed (committed), then answered 429 with ``Retry-After``."""
    COMMIT_500 = "commit_500"
    """The request is processed (committed), then answered 500."""
    LATE_COMMIT = "late_commit"
    """A 500 or 504 at once; the request is processed ``Faults.late_commit_delay`` seconds
    later (a server still working on it). On uploads, whose stream cannot wait, a plain 5xx."""


CLASSIC_KINDS: tuple[FaultKind, ...] = (
    FaultKind.SERVER_ERROR,
    FaultKind.RATE_LIMIT,
    FaultKind.RESET_BEFORE,
    FaultKind.RESET_AFTER,
    FaultKind.SLOW,
    FaultKind.MALFORMED_JSON,
    FaultKind.HTML_ERROR,
)
"""The kinds ``Faults.uniform`` spreads over by default (all but SLOW of them)."""
COMMIT_KINDS: tuple[FaultKind, ...] = (
    FaultKind.RESET_AFTER,
    FaultKind.COMMIT_503,
    FaultKind.COMMIT_429,
    FaultKind.COMMIT_500,
    FaultKind.LATE_COMMIT,
)
"""The kinds after which the server did (or will) commit, whatever the client saw."""


# Fixed order: the cumulative rates are laid out in this order on [0, 1).
KIND_ORDER: tuple[FaultKind, ...] = tuple(FaultKind)


@dataclass(frozen=True, slots=True)
class Fault:
    """A decided fault: its kind and, for a 5xx, the status."""

    kind: FaultKind
    status: int | None = None


@dataclass(slots=True)
class Window:
    """Fault every request on ``route`` during the first ``seconds`` after the faults are
    installed and/or the first ``requests`` requests on that route (all users together)."""

    kind: FaultKind
    route: str = ANY_ROUTE
    seconds: float | None = None
    requests: int | None = None
    status: int | None = None
    seen: int = 0
    until: float | None = None

    def start_clock(self) -> None:
        """Count ``seconds`` from now."""
        self.until = None if self.seconds is None else time.monotonic() + self.seconds


def parse_kind(value: FaultKind | str) -> FaultKind:
    """``value`` as a ``FaultKind`` (ValueError naming the known kinds)."""
    try:
        return FaultKind(value)
    except ValueError:
        raise ValueError(
            f"unknown fault kind {value!r}; expected one of {[k.value for k in FaultKind]}"
        ) from None
