"""The arq job: ``run_verification`` (one wizard run per job) and enqueueing it idempotently."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from structlog.contextvars import bound_contextvars

from .._callbacks import call_maybe_async
from .._logging import get_logger
from ..auth import Auth
from ..batch import auth_from_spec, provider_from_spec, result_dict, spec_key
from ..client import Client
from ..errors import (
    APIConnectionError,
    CheckpointError,
    ConfigurationError,
    KycflowError,
    OutcomeUnknownError,
    RateLimitError,
    RunInProgressError,
    ServerError,
    WizardDeadlineError,
)
from ..wizard.providers import FileProvider
from ..wizard.runner import WizardRunner
from . import arq_module
from ._arq_store import RedisCheckpointStore
from .redis_events import RedisEventPublisher

if TYPE_CHECKING:
    from arq.connections import ArqRedis
    from arq.jobs import Job

__all__ = [
    "CTX_KEY",
    "DEFAULT_JOB_ID_PREFIX",
    "DEFAULT_MAX_TRIES",
    "DEFAULT_RETRY_DELAY",
    "JOB_FUNCTION",
    "TRANSIENT_ERRORS",
    "AuthResolver",
    "ProviderResolver",
    "WorkerState",
    "default_resolve_auth",
    "enqueue_verification",
    "job_id_for",
    "run_verification",
]

JOB_FUNCTION = "kycflow.run_verification"
"""The name the job function is registered and enqueued under."""
CTX_KEY = "kycflow"
"""Where ``on_startup`` puts the ``WorkerState`` in arq's ``ctx``."""
DEFAULT_JOB_ID_PREFIX = "kycflow:verify:"
DEFAULT_MAX_TRIES = 5
DEFAULT_RETRY_DELAY = 5.0

TRANSIENT_ERRORS: tuple[type[KycflowError], ...] = (
    APIConnectionError,
    ServerError,
    RateLimitError,
    OutcomeUnknownError,
    CheckpointError,
    RunInProgressError,
    # The run spent its deadline retrying transient failures: try the job again later.
    WizardDeadlineError,
)
"""Errors after which a job is tried again (from its checkpoint) rather than failed.
``RunInProgressError``: another worker still holds the job's lease (arq ran the job again
while its first worker lives); the try is deferred, and submits nothing meanwhile."""

_log = get_logger()  # the redacting kycflow logger

AuthResolver = Callable[[Mapping[str, Any], Mapping[str, Any]], "Auth | Awaitable[Auth]"]
ProviderResolver = Callable[
    [Mapping[str, Any], Mapping[str, Any]], "FileProvider | Awaitable[FileProvider]"
]


def default_resolve_auth(ctx: Mapping[str, Any], job: Mapping[str, Any]) -> Auth:
    """The job's ``token_env``, read from the worker's environment."""
    auth = auth_from_spec(job)
    if auth is None:
        raise ConfigurationError(
            "the job names no credentials: give 'token_env' or configure resolve_auth"
        )
    return auth


@dataclass
class WorkerState:
    """What a worker process shares between its jobs (in ``ctx[CTX_KEY]``)."""

    client: Client
    store: RedisCheckpointStore
    resolve_auth: AuthResolver = default_resolve_auth
    resolve_provider: ProviderResolver | None = None
    documents_root: str | None = None
    runner_options: Mapping[str, Any] = field(default_factory=dict)
    max_tries: int = DEFAULT_MAX_TRIES
    retry_delay: float = DEFAULT_RETRY_DELAY
    events: RedisEventPublisher | None = None


def _check_job(job: Any) -> str:
    key = spec_key(job)
    if "token" in job:
        raise ConfigurationError(
            "a queued job must not carry a raw token (it would sit in Redis and in arq's "
            "logs): use 'token_env' or a resolve_auth hook"
        )
    return key


def _event_option(state: WorkerState, key: str) -> dict[str, Any]:
    return {} if state.events is None else {"on_event": state.events.on_event(key)}


async def run_verification(ctx: dict[str, Any], job: Mapping[str, Any]) -> dict[str, Any]:
    """Run one verification: arq's job function (registered as ``JOB_FUNCTION``).

    ``job`` is ``{"key", "token_env"?, "documents", "map"?, "meta"?}``. The run saves its
    checkpoint under the arq job id, so a retry (after a transient error, a crash or a
    shutdown) resumes it. Returns the result's JSON form (``key``, ``status``, ``uuid``,
    ``steps``, ``resumed``, ``error``, plus ``job_try``). A transient error
    (``TRANSIENT_ERRORS``) raises arq's ``Retry`` while tries remain; any other error, or the
    last try, gives a ``"failed"`` result instead of raising.
    """
    job_id = str(ctx.get("job_id") or "")
    job_try = int(ctx.get("job_try") or 1)
    state = ctx.get(CTX_KEY)
    key = job.get("key") if isinstance(job, Mapping) else None
    key = key if isinstance(key, str) else job_id
    try:
        if not isinstance(state, WorkerState):
            raise ConfigurationError(
                "the kycflow worker state is missing: run the worker with make_worker_settings"
            )
        key = _check_job(job)
        auth = await call_maybe_async(state.resolve_auth, ctx, job)
        if state.resolve_provider is not None:
            provider = await call_maybe_async(state.resolve_provider, ctx, job)
        else:
            provider = provider_from_spec(job, base_dir=state.documents_root)
        runner = WizardRunner(
            state.client.with_auth(auth),
            provider,
            checkpoint_store=state.store,
            checkpoint_key=job_id or key,
            run_id=f"{job_id or key}:{job_try}",
            **state.runner_options,
            **_event_option(state, key),
        )
        with bound_contextvars(job_key=key, job_id=job_id, job_try=job_try):
            outcome = await runner.run()
    except TRANSIENT_ERRORS as exc:
        if isinstance(state, WorkerState) and job_try < state.max_tries:
            delay = state.retry_delay * job_try
            _log.warning(
                "arq.job_retry",
                job_id=job_id,
                job_try=job_try,
                error=type(exc).__name__,
                defer=delay,
            )
            raise arq_module("arq.worker").Retry(defer=delay) from exc
        return {**result_dict(key, None, exc), "job_try": job_try}
    except Exception as exc:
        _log.warning("arq.job_failed", job_id=job_id, job_try=job_try, error=type(exc).__name__)
        return {**result_dict(key, None, exc), "job_try": job_try}
    return {**result_dict(key, outcome, None), "job_try": job_try}


def job_id_for(key: str, *, prefix: str = DEFAULT_JOB_ID_PREFIX) -> str:
    """The deterministic arq job id of the job with ``key``."""
    return prefix + key


async def enqueue_verification(
    redis: ArqRedis,
    job: Mapping[str, Any],
    *,
    job_id: str | None = None,
    queue_name: str | None = None,
    defer_by: float | None = None,
    replace_failed: bool = False,
) -> Job | None:
    """Enqueue ``job`` (see ``run_verification``) under ``job_id`` (default
    ``job_id_for(job["key"])``). Returns arq's ``Job``, or ``None`` when a job with that id is
    already queued, running, or its result is still kept: enqueueing is idempotent.

    ``replace_failed=True`` first drops the kept result of a job with that id that *failed*
    (``status: "failed"``, or an exception), so the same key runs again at once and resumes
    from its checkpoint (uploads and submitted steps are reused). A completed, queued or
    running job is left alone (``None``).

    The job is checked here (``ConfigurationError`` for a bad shape or a raw ``token``) and
    must be JSON data.
    """
    key = _check_job(job)
    provider_from_spec(job)  # shape only: the directory is the worker's to read
    try:
        plain = json.loads(json.dumps(dict(job)))
    except (TypeError, ValueError) as exc:
        raise ConfigurationError("a queued job must be plain JSON data") from exc
    job_id = job_id or job_id_for(key)
    if replace_failed:
        await _drop_failed_result(redis, job_id)
    result: Job | None = await redis.enqueue_job(
        JOB_FUNCTION,
        plain,
        _job_id=job_id,
        _queue_name=queue_name,
        _defer_by=defer_by,
    )
    return result


async def _drop_failed_result(redis: ArqRedis, job_id: str) -> None:
    """Delete the kept result of ``job_id`` if that job failed (arq dedupes on it)."""
    jobs, constants = arq_module("arq.jobs"), arq_module("arq.constants")
    info = await jobs.Job(job_id, redis, _deserializer=redis.job_deserializer).result_info()
    if info is None:
        return
    outcome = info.result
    if not info.success or (isinstance(outcome, dict) and outcome.get("status") == "failed"):
        await redis.delete(constants.result_key_prefix + job_id)
