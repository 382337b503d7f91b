"""What the sandbox saw: requests, committed submissions, duplicates and uploads.

Records are small frozen objects; nothing holds a body, a token or a password.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["Duplicate", "Records", "RequestRecord", "Submission", "UploadRecord"]


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """One request. ``status`` is None when the connection was reset instead of answered;
    ``user`` is the caller's email when known; ``time`` is wall-clock seconds."""

    method: str
    path: str
    route: str | None
    user: str | None
    status: int | None
    fault: str | None
    time: float
    request_id: str


@dataclass(frozen=True, slots=True)
class Submission:
    """A committed wizard step. ``completed`` is True on the step that ended the procedure."""

    user: str
    uuid: str
    step: int
    type: int
    files: tuple[str, ...]
    time: float
    completed: bool = False


@dataclass(frozen=True, slots=True)
class Duplicate:
    """A submit whose (uuid, type, files) repeated a committed one (rejected with 409, or
    accepted by a ``Sandbox(accept_repeats=True)``)."""

    user: str
    uuid: str
    type: int
    files: tuple[str, ...]
    time: float


@dataclass(frozen=True, slots=True)
class UploadRecord:
    """A stored upload: only its name, content type, size and digest are kept."""

    user: str
    path: str
    filename: str
    content_type: str
    size: int
    sha256: str
    time: float


@dataclass
class Records:
    """Everything recorded since start (or the last reset)."""

    steps_per_procedure: int
    keep_requests: bool = True
    request_log: list[RequestRecord] = field(default_factory=list)
    submission_log: list[Submission] = field(default_factory=list)
    duplicate_log: list[Duplicate] = field(default_factory=list)
    upload_log: list[UploadRecord] = field(default_factory=list)
    request_counts: Counter[str] = field(default_factory=Counter)
    status_counts: Counter[str] = field(default_factory=Counter)
    fault_counts: Counter[tuple[str, str]] = field(default_factory=Counter)

    def add_request(self, record: RequestRecord) -> None:
        """Count a request (and keep it, unless ``keep_requests`` is off)."""
        self.request_counts[record.route or "-"] += 1
        self.status_counts["reset" if record.status is None else str(record.status)] += 1
        if record.fault is not None:
            self.fault_counts[(record.route or "-", record.fault)] += 1
        if self.keep_requests:
            self.request_log.append(record)

    def clear(self) -> None:
        """Forget everything."""
        self.request_log.clear()
        self.submission_log.clear()
        self.duplicate_log.clear()
        self.upload_log.clear()
        self.request_counts.clear()
        self.status_counts.clear()
        self.fault_counts.clear()

    def requests(self, route: str | None = None, user: str | None = None) -> list[RequestRecord]:
        """Recorded requests, optionally only those of a route and/or user (email)."""
        return [
            r
            for r in self.request_log
            if (route is None or r.route == route) and (user is None or r.user == user)
        ]

    def submissions(self, user: str | None = None) -> list[Submission]:
        """Committed submissions in commit order, optionally of one user."""
        return [s for s in self.submission_log if user is None or s.user == user]

    def duplicates(self, user: str | None = None) -> list[Duplicate]:
        """Rejected duplicate submits."""
        return [d for d in self.duplicate_log if user is None or d.user == user]

    def uploads(self, user: str | None = None) -> list[UploadRecord]:
        """Stored uploads."""
        return [u for u in self.upload_log if user is None or u.user == user]

    def faults_injected(
        self, route: str | None = None, kind: str | None = None
    ) -> list[RequestRecord]:
        """Requests that got an injected fault."""
        return [
            r
            for r in self.request_log
            if r.fault is not None
            and (route is None or r.route == route)
            and (kind is None or r.fault == kind)
        ]

    def problems(self, users: Iterable[str] | None = None) -> list[str]:
        """Why ``assert_each_step_submitted_once`` would fail (empty when it passes)."""
        wanted = None if users is None else set(users)
        problems = [
            f"duplicate submit by {d.user} for procedure {d.uuid} (type {d.type})"
            for d in self.duplicate_log
            if wanted is None or d.user in wanted
        ]
        by_procedure: dict[tuple[str, str], list[Submission]] = defaultdict(list)
        for sub in self.submission_log:
            if wanted is None or sub.user in wanted:
                by_procedure[(sub.user, sub.uuid)].append(sub)
        for (user, uuid), subs in by_procedure.items():
            steps = [s.step for s in subs]
            if steps != list(range(len(steps))):
                problems.append(f"{user} procedure {uuid}: steps committed as {steps}")
            if any(s.completed for s in subs) and len(steps) != self.steps_per_procedure:
                problems.append(
                    f"{user} procedure {uuid} completed with {len(steps)} of "
                    f"{self.steps_per_procedure} steps"
                )
        return problems

    def summary(self, *, include_requests: bool = False) -> dict[str, Any]:
        """A JSON-ready summary (the admin API's ``GET /_sandbox/records``)."""
        out: dict[str, Any] = {
            "submissions": [asdict(s) for s in self.submission_log],
            "duplicates": [asdict(d) for d in self.duplicate_log],
            "uploads": [asdict(u) for u in self.upload_log],
            "requests": {
                "total": sum(self.request_counts.values()),
                "by_route": dict(self.request_counts),
                "by_status": dict(self.status_counts),
            },
            "faults": [
                {"route": route, "kind": kind, "count": count}
                for (route, kind), count in sorted(self.fault_counts.items())
            ],
            "problems": self.problems(),
        }
        if include_requests:
            out["requests"]["log"] = [asdict(r) for r in self.request_log]
        return out
