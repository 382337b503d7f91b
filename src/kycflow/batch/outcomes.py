"""What a batch reports: progress counts, each job's result, and the callbacks' types."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Literal

from .._schema import JobResultDict, job_result_dict
from ..wizard.events import WizardEvent
from ..wizard.runner import WizardResult

__all__ = [
    "BatchProgress",
    "BatchResult",
    "JobEventCallback",
    "ProgressCallback",
    "ResultCallback",
    "Status",
    "result_dict",
]


@dataclass(frozen=True)
class BatchProgress:
    """Counts so far: ``done`` succeeded, ``failed`` failed, out of ``total`` (``None`` when
    the input's length is unknown), ``elapsed`` seconds after ``run_many`` started."""

    done: int
    failed: int
    total: int | None
    # Not compared: two progress reports with the same counts are the same progress.
    elapsed: float = field(default=0.0, compare=False)

    @property
    def finished(self) -> int:
        """Jobs that ended either way."""
        return self.done + self.failed

    @property
    def rate(self) -> float | None:
        """Jobs finished per second so far (``None`` before the first one)."""
        if self.finished == 0 or self.elapsed <= 0:
            return None
        return self.finished / self.elapsed

    @property
    def eta(self) -> float | None:
        """Seconds until every job has finished at the rate so far (``None`` when the total or
        the rate is unknown; ``0.0`` once all have finished)."""
        if self.total is None:
            return None
        remaining = max(0, self.total - self.finished)
        if remaining == 0:
            return 0.0
        rate = self.rate
        return None if rate is None else remaining / rate


Status = Literal["complete", "failed"]


@dataclass(frozen=True)
class BatchResult:
    """The outcome of one job: ``result`` when ``ok``, else ``error`` (the exception that ended
    the run). ``index`` is the job's position in the input."""

    key: str
    ok: bool
    index: int
    result: WizardResult | None = None
    error: Exception | None = None

    @property
    def status(self) -> Status:
        """``"complete"`` or ``"failed"``."""
        return "complete" if self.ok else "failed"

    def to_dict(self) -> JobResultDict:
        """Plain JSON data, no secrets (docs/cli.md, "JSON output": ``kind: "job_result"``)."""
        return job_result_dict(self.key, self.result, self.error, index=self.index)


def result_dict(
    key: str, result: WizardResult | None, error: BaseException | None
) -> JobResultDict:
    """The JSON form of a job's outcome, shared by the CLI's output and arq job results."""
    return job_result_dict(key, result, error)


ProgressCallback = Callable[[BatchProgress], "Awaitable[None] | None"]
ResultCallback = Callable[[BatchResult], "Awaitable[None] | None"]
JobEventCallback = Callable[[str, WizardEvent], "Awaitable[None] | None"]
