"""The WorkerSettings the arq worker subprocesses of test_distributed run.

``arq arq_test_worker.WorkerSettings`` with PYTHONPATH holding this directory. Settings come
from the environment the test sets; ``on_job_start`` records which process took which job.
"""

from __future__ import annotations

import os
from typing import Any

from kycflow.integrations.arq import make_worker_settings


async def record_owner(ctx: dict[str, Any]) -> None:
    await ctx["redis"].rpush(f"test:owner:{ctx['job_id']}", str(os.getpid()))


WorkerSettings = make_worker_settings(
    base_url=os.environ["KYCFLOW_TEST_BASE_URL"],
    redis=os.environ["KYCFLOW_TEST_REDIS_URL"],
    job_timeout=float(os.environ.get("KYCFLOW_TEST_JOB_TIMEOUT", "6")),
    max_jobs=int(os.environ.get("KYCFLOW_TEST_MAX_JOBS", "2")),
    max_tries=4,
    retry_delay=0.5,
    poll_delay=0.1,
    on_job_start=record_owner,
)
