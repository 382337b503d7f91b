"""Distributed verifications on arq workers and Redis (``pip install kycflow[arq]``).

- ``make_worker_settings(base_url=..., redis=...)``: the settings class ``arq`` runs. Each
  worker process opens one shared ``kycflow.Client`` at startup and closes it at shutdown.
- ``run_verification(ctx, job)``: the job function; one wizard run per job.
- ``enqueue_verification(redis, job)``: enqueues a job under a deterministic id, so enqueueing
  the same key again is a no-op while the job is queued, running or its result is kept.
- ``RedisCheckpointStore``: checkpoints in Redis, keyed by the job id, so a job that arq runs
  again after its worker died resumes where it stopped, uploading and submitting nothing twice.

Credentials never sit in Redis: a queued job names them (``token_env``, or anything a custom
``resolve_auth(ctx, job)`` hook understands, e.g. ``meta``) and the worker resolves them. A job
carrying a raw ``token`` is refused. See docs/workers.md.

arq is imported only when a worker or an enqueue needs it; ``import kycflow`` never does.
"""

from __future__ import annotations

from ._arq_job import (
    CTX_KEY,
    DEFAULT_JOB_ID_PREFIX,
    DEFAULT_MAX_TRIES,
    DEFAULT_RETRY_DELAY,
    JOB_FUNCTION,
    TRANSIENT_ERRORS,
    AuthResolver,
    ProviderResolver,
    WorkerState,
    default_resolve_auth,
    enqueue_verification,
    job_id_for,
    run_verification,
)
from ._arq_store import (
    DEFAULT_CHECKPOINT_PREFIX,
    DEFAULT_CHECKPOINT_TTL,
    DEFAULT_LEASE_TTL,
    RedisCheckpointStore,
    RedisClient,
)
from ._arq_worker import (
    DEFAULT_HEALTH_CHECK_INTERVAL,
    DEFAULT_JOB_TIMEOUT,
    DEFAULT_KEEP_RESULT,
    DEFAULT_MAX_JOBS,
    Hook,
    make_worker_settings,
)

__all__ = [
    "CTX_KEY",
    "DEFAULT_CHECKPOINT_PREFIX",
    "DEFAULT_CHECKPOINT_TTL",
    "DEFAULT_HEALTH_CHECK_INTERVAL",
    "DEFAULT_JOB_ID_PREFIX",
    "DEFAULT_JOB_TIMEOUT",
    "DEFAULT_KEEP_RESULT",
    "DEFAULT_LEASE_TTL",
    "DEFAULT_MAX_JOBS",
    "DEFAULT_MAX_TRIES",
    "DEFAULT_RETRY_DELAY",
    "JOB_FUNCTION",
    "TRANSIENT_ERRORS",
    "AuthResolver",
    "Hook",
    "ProviderResolver",
    "RedisCheckpointStore",
    "RedisClient",
    "WorkerState",
    "default_resolve_auth",
    "enqueue_verification",
    "job_id_for",
    "make_worker_settings",
    "run_verification",
]
