"""The arq worker's settings: ``make_worker_settings`` and the startup/shutdown it installs."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..client import Client
from ..errors import ConfigurationError
from . import arq_module
from ._arq_job import (
    CTX_KEY,
    DEFAULT_MAX_TRIES,
    DEFAULT_RETRY_DELAY,
    JOB_FUNCTION,
    AuthResolver,
    ProviderResolver,
    WorkerState,
    default_resolve_auth,
    run_verification,
)
from ._arq_store import DEFAULT_CHECKPOINT_PREFIX, DEFAULT_CHECKPOINT_TTL, RedisCheckpointStore
from .redis_coordination import RedisCoordinator
from .redis_events import DEFAULT_EVENTS_MAXLEN, RedisEventPublisher

if TYPE_CHECKING:
    from arq.connections import RedisSettings

__all__ = [
    "DEFAULT_HEALTH_CHECK_INTERVAL",
    "DEFAULT_JOB_TIMEOUT",
    "DEFAULT_KEEP_RESULT",
    "DEFAULT_MAX_JOBS",
    "Hook",
    "make_worker_settings",
]

DEFAULT_JOB_TIMEOUT = 300.0
DEFAULT_MAX_JOBS = 20
DEFAULT_KEEP_RESULT = 86400.0
DEFAULT_HEALTH_CHECK_INTERVAL = 30.0

Hook = Callable[[dict[str, Any]], Awaitable[None]]

# A cancelled job (a graceful shutdown) goes back to the queue and resumes elsewhere.
_ALWAYS: dict[str, Any] = {"retry_jobs": True, "allow_abort_jobs": True}


def _redis_settings(redis: RedisSettings | str | None) -> RedisSettings:
    if redis is not None and not isinstance(redis, str):
        return redis
    connections = arq_module("arq.connections")
    url = redis or os.environ.get("KYCFLOW_REDIS_URL") or os.environ.get("REDIS_URL")
    settings: RedisSettings = (
        connections.RedisSettings.from_dsn(url) if url else connections.RedisSettings()
    )
    return settings


def _runner_options(
    runner_options: Mapping[str, Any] | None, *, job_timeout: float, publish_events: bool
) -> dict[str, Any]:
    options = dict(runner_options or {})
    for reserved in ("checkpoint_store", "checkpoint_key", "run_id"):
        if reserved in options:
            raise ConfigurationError(f"{reserved} is set per job; remove it from runner_options")
    if publish_events and "on_event" in options:
        raise ConfigurationError("publish_events sets on_event; remove it from runner_options")
    options.setdefault("deadline", job_timeout * 0.9)
    return options


@dataclass(frozen=True, kw_only=True)
class _Lifecycle:
    """What a worker process builds at startup and closes at shutdown."""

    base_url: str
    client_options: Mapping[str, Any]
    resolve_auth: AuthResolver
    resolve_provider: ProviderResolver | None
    documents_root: str | None
    runner_options: Mapping[str, Any]
    checkpoint_prefix: str
    checkpoint_ttl: float | None
    max_tries: int
    retry_delay: float
    request_rate: str | None
    events_maxlen: int | None  # None: no events published
    on_startup: Hook | None
    on_shutdown: Hook | None

    @classmethod
    def from_arguments(cls, arguments: dict[str, Any]) -> _Lifecycle:
        """Checked, from ``make_worker_settings``'s arguments."""
        job_timeout, max_tries = arguments["job_timeout"], arguments["max_tries"]
        if not job_timeout > 0:
            raise ConfigurationError("job_timeout must be positive")
        if isinstance(max_tries, bool) or not isinstance(max_tries, int) or max_tries < 1:
            raise ConfigurationError("max_tries must be a positive integer")
        publish = arguments["publish_events"]
        fields = {f.name: arguments[f.name] for f in dataclasses.fields(cls)}
        fields["client_options"] = dict(arguments["client_options"] or {})
        fields["runner_options"] = _runner_options(
            arguments["runner_options"], job_timeout=job_timeout, publish_events=publish
        )
        fields["events_maxlen"] = arguments["events_maxlen"] if publish else None
        return cls(**fields)

    async def startup(self, ctx: dict[str, Any]) -> None:
        kwargs = dict(self.client_options)
        if kwargs.get("coordinator") is None:
            kwargs["coordinator"] = RedisCoordinator(ctx["redis"], rate=self.request_rate)
        store = RedisCheckpointStore(
            ctx["redis"], prefix=self.checkpoint_prefix, ttl=self.checkpoint_ttl
        )
        events = (
            None
            if self.events_maxlen is None
            else RedisEventPublisher(ctx["redis"], maxlen=self.events_maxlen)
        )
        ctx[CTX_KEY] = WorkerState(
            client=Client(self.base_url, **kwargs),
            store=store,
            resolve_auth=self.resolve_auth,
            resolve_provider=self.resolve_provider,
            documents_root=self.documents_root,
            runner_options=self.runner_options,
            max_tries=self.max_tries,
            retry_delay=self.retry_delay,
            events=events,
        )
        if self.on_startup is not None:
            await self.on_startup(ctx)

    async def shutdown(self, ctx: dict[str, Any]) -> None:
        try:
            if self.on_shutdown is not None:
                await self.on_shutdown(ctx)
        finally:
            state = ctx.pop(CTX_KEY, None)
            if isinstance(state, WorkerState):
                await state.client.aclose()


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
    """A ``WorkerSettings`` class for ``arq`` (``arq mymodule.WorkerSettings``); docs/workers.md.

    - ``base_url``, ``client_options``: the ``kycflow.Client`` each worker process opens at
      startup and closes at shutdown; jobs run on ``with_auth`` views of it. ``redis``:
      ``RedisSettings``, a URL, or ``None`` for ``$KYCFLOW_REDIS_URL``, ``$REDIS_URL``, localhost.
    - ``resolve_auth(ctx, job)`` / ``resolve_provider(ctx, job)`` (sync or async): a job's
      credentials and documents; by default ``token_env`` from the worker's environment and a
      ``DirectoryProvider`` over ``documents`` (relative to ``documents_root``) with ``map``.
    - ``runner_options``: ``WizardRunner`` keywords; ``deadline`` defaults to 90% of
      ``job_timeout`` (arq's limit per try; a job whose worker died runs again after
      ``job_timeout + 10`` s). ``max_tries``: tries per job, crashes included, ``retry_delay *
      try`` s apart after a transient error. ``keep_result``: seconds a result is kept (and the
      job id refused). ``on_startup``/``on_shutdown``: hooks run after/before kycflow's.
    - ``request_rate``: the fleet's request rate (``"20/second"``), shared with every
      ``Retry-After`` pause through Redis (a ``RedisCoordinator``) unless ``client_options``
      names a ``coordinator``. ``publish_events``: each run's events to the job key's Redis
      stream (about ``events_maxlen`` kept). ``worker_options``: other ``arq.Worker`` settings.
    """
    arguments = dict(locals())  # first: every argument, by name
    worker = arq_module("arq.worker")
    life = _Lifecycle.from_arguments(arguments)
    job = worker.func(run_verification, name=JOB_FUNCTION, timeout=job_timeout, max_tries=max_tries)
    attrs: dict[str, Any] = {
        "functions": [job],
        "redis_settings": _redis_settings(redis),
        "on_startup": life.startup,
        "on_shutdown": life.shutdown,
        "job_timeout": job_timeout,
        "max_tries": max_tries,
        "max_jobs": max_jobs,
        "keep_result": keep_result,
        "health_check_interval": health_check_interval,
        **_ALWAYS,
        **worker_options,
    }
    return type("WorkerSettings", (), attrs)
