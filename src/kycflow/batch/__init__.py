"""Many verifications over one client: ``run_many`` with bounded concurrency.

A fixed pool of ``concurrency`` worker tasks pulls jobs from the input one at a time, so 10,000
jobs cost ``concurrency`` tasks, not 10,000. Each job runs a ``WizardRunner`` on a view of the
client authenticated as the job's user. A failed job is recorded in its ``BatchResult`` and
never cancels the others; cancelling ``run_many`` cancels every run in flight and waits for them.

``BatchJob.from_dict`` reads the job shape shared by ``kycflow batch`` (one JSON object per
line) and the arq integration: ``{"key", "token" | "token_env", "documents", "map"}``.

Modules: ``jobs`` (the job spec), ``outcomes`` (progress and results), ``pool`` (``run_many``).
"""

from __future__ import annotations

from .jobs import BatchJob, auth_from_spec, provider_from_spec, spec_key
from .outcomes import (
    BatchProgress,
    BatchResult,
    JobEventCallback,
    ProgressCallback,
    ResultCallback,
    Status,
    result_dict,
)
from .pool import DEFAULT_BATCH_CONCURRENCY, BatchClient, run_many

__all__ = [
    "DEFAULT_BATCH_CONCURRENCY",
    "BatchClient",
    "BatchJob",
    "BatchProgress",
    "BatchResult",
    "JobEventCallback",
    "ProgressCallback",
    "ResultCallback",
    "Status",
    "auth_from_spec",
    "provider_from_spec",
    "result_dict",
    "run_many",
    "spec_key",
]
