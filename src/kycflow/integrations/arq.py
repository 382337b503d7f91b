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

import importlib
import inspect
import json
import os
from collections.abc import Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import ValidationError
from structlog.contextvars import bound_contextvars

from .._logging import get_logger
from ..auth import Auth
from ..batch import auth_from_spec, provider_from_spec, result_dict, spec_key
from ..client import Client
from ..errors import (
    APIConnectionError,
    CheckpointError,
    ConfigurationError,
    KycflowError,
    LeaseLostError,
    OutcomeUnknownError,
    RateLimitError,
    RunInProgressError,
    ServerError,
    WizardDeadlineError,
)
from ..wizard.checkpoint import Checkpoint
from ..wizard.leases import Lease, OnBusy, current_lease
from ..wizard.providers import FileProvider
from ..wizard.runner import WizardRunner
from ._redis_lease import FENCED_SET, RedisLeases, lease_value
from .redis_coordination import RedisCoordinator
from .redis_events import DEFAULT_EVENTS_MAXLEN, RedisEventPublisher

if TYPE_CHECKING:
    from arq.connections import ArqRedis, RedisSettings
    from arq.jobs import Job

__all__ = [
    "CTX_KEY",
    "DEFAULT_CHECKPOINT_PREFIX",
    "DEFAULT_CHECKPOINT_TTL",
    "DEFAULT_JOB_ID_PREFIX",
    "JOB_FUNCTION",
    "TRANSIENT_ERRORS",
    "RedisCheckpointStore",
    "RedisClient",
    "WorkerState",
    "default_resolve_auth",
    "enqueue_verification",
    "job_id_for",
    "make_worker_settings",
    "run_verification",
]

JOB_FUNCTION = "kycflow.run_verification"
"""The name the job function is registered and enqueued under."""
CTX_KEY = "kycflow"
"""Where ``on_startup`` puts the ``WorkerState`` in arq's ``ctx``."""
DEFAULT_JOB_ID_PREFIX = "kycflow:verify:"
DEFAULT_CHECKPOINT_PREFIX = "kycflow:checkpoint:"
DEFAULT_CHECKPOINT_TTL = 7 * 86400.0
DEFAULT_LEASE_TTL = 10.0
"""Seconds a dead worker's lease outlives it: under arq's ``job_timeout + 10`` re-run delay."""
DEFAULT_JOB_TIMEOUT = 300.0
DEFAULT_MAX_TRIES = 5
DEFAULT_MAX_JOBS = 20
DEFAULT_KEEP_RESULT = 86400.0
DEFAULT_RETRY_DELAY = 5.0
DEFAULT_HEALTH_CHECK_INTERVAL = 30.0

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
Hook = Callable[[dict[str, Any]], Awaitable[None]]


def _arq_module(name: str = "arq") -> Any:
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise ConfigurationError(
            "the arq integration needs arq and redis: pip install 'kycflow[arq]'"
        ) from exc


# -- checkpoints ----------------------------------------------------------------------------


class RedisClient(Protocol):
    """The commands the store uses (``redis.asyncio.Redis`` and arq's ``ArqRedis``); leases
    also use ``exists``, ``incr`` and ``eval``."""

    def get(self, name: str, /) -> Any: ...

    def set(self, name: str, value: str, *, px: int | None = None) -> Any: ...

    def delete(self, *names: str) -> Any: ...

    def eval(self, script: str, numkeys: int, /, *keys_and_args: Any) -> Any: ...


class RedisCheckpointStore:
    """A ``CheckpointStore`` in Redis: one JSON string per checkpoint under ``prefix + key``,
    expiring ``ttl`` seconds after its last save (``None``: never).

    Backend failures and stored data that is not a checkpoint raise ``CheckpointError``.
    """

    def __init__(
        self,
        redis: RedisClient,
        *,
        prefix: str = DEFAULT_CHECKPOINT_PREFIX,
        ttl: float | None = DEFAULT_CHECKPOINT_TTL,
        on_busy: OnBusy = "fail",
        lease_ttl: float = DEFAULT_LEASE_TTL,
        lease_wait: float | None = None,
    ) -> None:
        if ttl is not None and not ttl > 0:
            raise ConfigurationError("ttl must be a positive number of seconds or None")
        if not lease_ttl > 0:
            raise ConfigurationError("lease_ttl must be a positive number of seconds")
        self.redis = redis
        self.prefix = prefix
        self.ttl = ttl
        self.leases = RedisLeases(
            redis,
            prefix=prefix + "lease:",
            ttl=lease_ttl,
            on_busy=on_busy,
            wait=lease_wait,
            holder=self,
        )

    def lease(self, key: str, owner: str) -> AbstractAsyncContextManager[Lease]:
        """Hold ``key`` for a run (see ``kycflow.wizard.leases``): a lock with expiry ``lease_ttl``
        and a fencing token, renewed while held. A second run gets ``RunInProgressError``
        (``on_busy="fail"``) or waits (``"wait"``, at most ``lease_wait`` seconds)."""
        return self.leases.lease(key, owner)

    def __repr__(self) -> str:
        return f"RedisCheckpointStore(prefix={self.prefix!r}, ttl={self.ttl!r})"

    def redis_key(self, key: str) -> str:
        """The Redis key holding checkpoint ``key``."""
        return self.prefix + key

    async def load(self, key: str) -> Checkpoint | None:
        """The checkpoint saved under ``key``, or ``None``."""
        try:
            raw = await self.redis.get(self.redis_key(key))
        except Exception as exc:
            raise CheckpointError(
                f"cannot load checkpoint {key!r}: {type(exc).__name__}", key=key
            ) from exc
        if raw is None:
            return None
        try:
            return Checkpoint.model_validate_json(raw)
        except ValidationError as exc:
            raise CheckpointError(f"checkpoint {key!r} holds invalid data", key=key) from exc

    async def save(self, key: str, checkpoint: Checkpoint) -> None:
        """Store ``checkpoint`` under ``key`` (its TTL starts again)."""
        raw = checkpoint.model_dump_json()
        px = None if self.ttl is None else max(1, int(self.ttl * 1000))
        lease = current_lease()
        fenced = lease is not None and lease.holder is self and lease.key == key
        try:
            if lease is not None and fenced:
                # Written only while the lease is still this run's (its fencing token).
                lease_key = self.leases.redis_key(key)
                args = (lease_value(lease), raw, px or 0)
                written = await self.redis.eval(
                    FENCED_SET, 2, lease_key, self.redis_key(key), *args
                )
            else:
                written = await self.redis.set(self.redis_key(key), raw, px=px)
        except Exception as exc:
            raise CheckpointError(
                f"cannot save checkpoint {key!r}: {type(exc).__name__}", key=key
            ) from exc
        if fenced and not written:
            raise LeaseLostError(
                f"the lease on checkpoint {key!r} expired and another run took it", key=key
            )

    async def delete(self, key: str) -> None:
        """Forget ``key`` (no error if absent)."""
        try:
            await self.redis.delete(self.redis_key(key))
        except Exception as exc:
            raise CheckpointError(
                f"cannot delete checkpoint {key!r}: {type(exc).__name__}", key=key
            ) from exc


# -- the job --------------------------------------------------------------------------------


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


async def _maybe_await(value: Any) -> Any:
    return await value if inspect.isawaitable(value) else value


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
        auth = await _maybe_await(state.resolve_auth(ctx, job))
        if state.resolve_provider is not None:
            provider = await _maybe_await(state.resolve_provider(ctx, job))
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
            raise _arq_module("arq.worker").Retry(defer=delay) from exc
        return {**result_dict(key, None, exc), "job_try": job_try}
    except Exception as exc:
        _log.warning("arq.job_failed", job_id=job_id, job_try=job_try, error=type(exc).__name__)
        return {**result_dict(key, None, exc), "job_try": job_try}
    return {**result_dict(key, outcome, None), "job_try": job_try}


# -- enqueueing -----------------------------------------------------------------------------


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
    jobs, constants = _arq_module("arq.jobs"), _arq_module("arq.constants")
    info = await jobs.Job(job_id, redis, _deserializer=redis.job_deserializer).result_info()
    if info is None:
        return
    outcome = info.result
    if not info.success or (isinstance(outcome, dict) and outcome.get("status") == "failed"):
        await redis.delete(constants.result_key_prefix + job_id)


# -- worker settings ------------------------------------------------------------------------


def _redis_settings(redis: RedisSettings | str | None) -> RedisSettings:
    if redis is not None and not isinstance(redis, str):
        return redis
    connections = _arq_module("arq.connections")
    url = redis or os.environ.get("KYCFLOW_REDIS_URL") or os.environ.get("REDIS_URL")
    settings: RedisSettings = (
        connections.RedisSettings.from_dsn(url) if url else connections.RedisSettings()
    )
    return settings


def make_worker_settings(
    *,
    base_url: str,
    redis: RedisSettings | str | None = None,
    client_options: Mapping[str, Any] | None = None,
    resolve_auth: AuthResolver = default_resolve_auth,
    resolve_provider: ProviderResolver | None = None,
    documents_root: str | None = None,
    runner_options: Mapping[str, Any] | None = None,
    checkpoint_prefix: str = DEFAULT_CHECKPOINT_PREFIX,
    checkpoint_ttl: float | None = DEFAULT_CHECKPOINT_TTL,
    job_timeout: float = DEFAULT_JOB_TIMEOUT,
    max_tries: int = DEFAULT_MAX_TRIES,
    max_jobs: int = DEFAULT_MAX_JOBS,
    keep_result: float = DEFAULT_KEEP_RESULT,
    retry_delay: float = DEFAULT_RETRY_DELAY,
    health_check_interval: float = DEFAULT_HEALTH_CHECK_INTERVAL,
    on_startup: Hook | None = None,
    on_shutdown: Hook | None = None,
    request_rate: str | None = None,
    publish_events: bool = False,
    events_maxlen: int = DEFAULT_EVENTS_MAXLEN,
    **worker_options: Any,
) -> type:
    """A ``WorkerSettings`` class for ``arq`` (``arq mymodule.WorkerSettings``).

    - ``base_url``, ``client_options``: the ``kycflow.Client`` each worker process opens once
      (at startup) and closes at shutdown; jobs run on ``with_auth`` views of it.
    - ``redis``: ``RedisSettings``, a ``redis://`` URL, or ``None`` for ``$KYCFLOW_REDIS_URL``,
      ``$REDIS_URL`` or localhost.
    - ``resolve_auth(ctx, job)`` / ``resolve_provider(ctx, job)`` (sync or async): a job's
      credentials and documents. Defaults: ``token_env`` from the worker's environment; a
      ``DirectoryProvider`` over ``documents`` (relative to ``documents_root``) with ``map``.
    - ``runner_options``: ``WizardRunner`` keyword arguments; the run's ``deadline`` defaults
      to 90% of ``job_timeout`` so a run ends with its own error before arq cancels it.
    - ``job_timeout``: arq's limit per try. arq marks a started job in progress for
      ``job_timeout + 10`` seconds: that is how soon a job whose worker died runs again.
    - ``max_tries``: tries per job, crashes included; ``retry_delay * try`` seconds between
      tries after a transient error. ``keep_result``: seconds arq keeps a result (and so
      refuses to enqueue the same job id again).
    - ``on_startup``/``on_shutdown``: your own hooks, run after/before kycflow's.
    - ``request_rate``: the vendor's request rate for the whole fleet (``"20/second"``). The
      workers' clients share it and every ``Retry-After`` pause through arq's Redis (a
      ``RedisCoordinator``), unless ``client_options`` names its own ``coordinator``.
    - ``publish_events``: publish each run's events to the job key's Redis stream (at most
      about ``events_maxlen`` kept), for ``kycflow.integrations.redis_events.read_events``.
    - ``worker_options``: any other ``arq.Worker`` setting (``queue_name``, ``poll_delay``...).
    """
    worker = _arq_module("arq.worker")
    if not job_timeout > 0:
        raise ConfigurationError("job_timeout must be positive")
    if isinstance(max_tries, bool) or not isinstance(max_tries, int) or max_tries < 1:
        raise ConfigurationError("max_tries must be a positive integer")
    options = dict(runner_options or {})
    for reserved in ("checkpoint_store", "checkpoint_key", "run_id"):
        if reserved in options:
            raise ConfigurationError(f"{reserved} is set per job; remove it from runner_options")
    if publish_events and "on_event" in options:
        raise ConfigurationError("publish_events sets on_event; remove it from runner_options")
    options.setdefault("deadline", job_timeout * 0.9)
    client_kwargs = dict(client_options or {})

    async def startup(ctx: dict[str, Any]) -> None:
        kwargs = dict(client_kwargs)
        if kwargs.get("coordinator") is None:
            kwargs["coordinator"] = RedisCoordinator(ctx["redis"], rate=request_rate)
        ctx[CTX_KEY] = WorkerState(
            client=Client(base_url, **kwargs),
            store=RedisCheckpointStore(ctx["redis"], prefix=checkpoint_prefix, ttl=checkpoint_ttl),
            resolve_auth=resolve_auth,
            resolve_provider=resolve_provider,
            documents_root=documents_root,
            runner_options=options,
            max_tries=max_tries,
            retry_delay=retry_delay,
            events=RedisEventPublisher(ctx["redis"], maxlen=events_maxlen)
            if publish_events
            else None,
        )
        if on_startup is not None:
            await on_startup(ctx)

    async def shutdown(ctx: dict[str, Any]) -> None:
        try:
            if on_shutdown is not None:
                await on_shutdown(ctx)
        finally:
            state = ctx.pop(CTX_KEY, None)
            if isinstance(state, WorkerState):
                await state.client.aclose()

    attrs: dict[str, Any] = {
        "functions": [
            worker.func(
                run_verification, name=JOB_FUNCTION, timeout=job_timeout, max_tries=max_tries
            )
        ],
        "redis_settings": _redis_settings(redis),
        "on_startup": startup,
        "on_shutdown": shutdown,
        "job_timeout": job_timeout,
        "max_tries": max_tries,
        "max_jobs": max_jobs,
        "keep_result": keep_result,
        "health_check_interval": health_check_interval,
        # A cancelled job (a graceful shutdown) goes back to the queue and resumes elsewhere.
        "retry_jobs": True,
        "allow_abort_jobs": True,
        **worker_options,
    }
    return type("WorkerSettings", (), attrs)
