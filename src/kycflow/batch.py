"""Many verifications over one client: ``run_many`` with bounded concurrency.

A fixed pool of ``concurrency`` worker tasks pulls jobs from the input one at a time, so 10,000
jobs cost ``concurrency`` tasks, not 10,000. Each job runs a ``WizardRunner`` on a view of the
client authenticated as the job's user. A failed job is recorded in its ``BatchResult`` and
never cancels the others; cancelling ``run_many`` cancels every run in flight and waits for them.

``BatchJob.from_dict`` reads the job shape shared by ``kycflow batch`` (one JSON object per
line) and the arq integration: ``{"key", "token" | "token_env", "documents", "map"}``.
"""

from __future__ import annotations

import asyncio
import inspect
import os
import time
from collections.abc import (
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Iterator,
    Mapping,
    Sized,
)
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from structlog.contextvars import bound_contextvars

from ._logging import get_logger
from ._schema import JobResultDict, job_result_dict
from .auth import Auth, BearerToken
from .errors import ConfigurationError, DocumentError
from .wizard.checkpoint import CheckpointStore
from .wizard.events import WizardEvent
from .wizard.providers import DirectoryProvider, FileProvider
from .wizard.runner import WizardClient, WizardResult, WizardRunner

__all__ = [
    "DEFAULT_BATCH_CONCURRENCY",
    "BatchClient",
    "BatchJob",
    "BatchProgress",
    "BatchResult",
    "auth_from_spec",
    "provider_from_spec",
    "run_many",
]

DEFAULT_BATCH_CONCURRENCY = 10
# ``meta``: free-form data for the arq integration's resolve hooks (ignored by the batch).
_SPEC_KEYS = frozenset({"key", "token", "token_env", "documents", "map", "meta"})

_log = get_logger()  # redacting; no event renders a traceback with locals


class BatchClient(WizardClient, Protocol):
    """What ``run_many`` needs of a client: ``kycflow.Client`` (its ``with_auth`` views run the
    jobs, all over the one connection pool)."""

    def with_auth(self, auth: Auth | None, /) -> WizardClient: ...


@dataclass(frozen=True)
class BatchJob:
    """One verification of a batch: a unique ``key`` (it names the result and, with a
    checkpoint store, the checkpoint), the user's ``auth`` (``None``: the client's own) and
    the ``provider`` of the user's documents. ``runner_options`` are extra ``WizardRunner``
    keyword arguments for this job only."""

    key: str
    auth: Auth | None = field(repr=False)
    provider: FileProvider
    runner_options: Mapping[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_dict(
        cls,
        spec: Mapping[str, Any],
        *,
        base_dir: str | os.PathLike[str] | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> BatchJob:
        """A job from its plain-data form ``{"key", "token" | "token_env", "documents",
        "map"}`` (see ``auth_from_spec`` and ``provider_from_spec``). Raises
        ``ConfigurationError`` naming the faulty field (never a token's value)."""
        key = spec_key(spec)
        return cls(
            key=key,
            auth=auth_from_spec(spec, environ=environ),
            provider=provider_from_spec(spec, base_dir=base_dir),
        )


def spec_key(spec: Mapping[str, Any]) -> str:
    """The job's ``key`` (a non-empty string); ``ConfigurationError`` for anything else."""
    if not isinstance(spec, Mapping):
        raise ConfigurationError("a job must be a JSON object")
    unknown = set(spec) - _SPEC_KEYS
    if unknown:
        raise ConfigurationError(f"unknown job field(s): {', '.join(sorted(unknown))}")
    key = spec.get("key")
    if not isinstance(key, str) or not key.strip():
        raise ConfigurationError("a job needs a non-empty string 'key'")
    return key


def auth_from_spec(
    spec: Mapping[str, Any], *, environ: Mapping[str, str] | None = None
) -> BearerToken | None:
    """The job's bearer token: ``token`` itself, or the environment variable named by
    ``token_env`` (read from ``environ``, default ``os.environ``). ``None`` when neither is
    given. Both at once, a non-string or an unset variable raise ``ConfigurationError``."""
    token = spec.get("token")
    token_env = spec.get("token_env")
    if token is not None and token_env is not None:
        raise ConfigurationError("give 'token' or 'token_env', not both")
    if token is not None:
        if not isinstance(token, str) or not token.strip():
            raise ConfigurationError("'token' must be a non-empty string")
        return BearerToken(token.strip())
    if token_env is not None:
        if not isinstance(token_env, str) or not token_env:
            raise ConfigurationError("'token_env' must name an environment variable")
        value = (os.environ if environ is None else environ).get(token_env, "").strip()
        if not value:
            raise ConfigurationError(f"environment variable {token_env} is not set")
        return BearerToken(value)
    return None


def provider_from_spec(
    spec: Mapping[str, Any], *, base_dir: str | os.PathLike[str] | None = None
) -> DirectoryProvider:
    """A ``DirectoryProvider`` over the job's ``documents`` directory (relative paths are taken
    from ``base_dir``), with its optional ``map`` of type id or description to file(s)."""
    documents = spec.get("documents")
    if not isinstance(documents, str) or not documents:
        raise ConfigurationError("a job needs 'documents', the directory of its files")
    mapping = spec.get("map")
    if mapping is not None:
        valid = isinstance(mapping, Mapping) and all(
            isinstance(v, str) or (isinstance(v, list) and all(isinstance(p, str) for p in v))
            for v in mapping.values()
        )
        if not valid:
            raise ConfigurationError("'map' must map type ids or names to a file or list of files")
    root = Path(documents).expanduser()
    if base_dir is not None and not root.is_absolute():
        root = Path(base_dir) / root
    # The provider's own checks (paths escaping the root) raise DocumentError here.
    return DirectoryProvider(root, mapping)


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


def _check_root(provider: FileProvider) -> None:
    """A ``DirectoryProvider`` whose directory is missing fails its job before any request,
    naming the path (the provider itself would find out only when the wizard asks)."""
    if isinstance(provider, DirectoryProvider) and not provider.root.is_dir():
        raise DocumentError(f"documents directory not found: {provider.root}")


async def _call(callback: Callable[..., Any] | None, *args: Any) -> None:
    if callback is None:
        return
    try:
        outcome = callback(*args)
        if inspect.isawaitable(outcome):
            await outcome
    except Exception as exc:
        # A broken progress display must not fail the batch. The type only: a traceback
        # (with the frame locals a rich renderer shows) could carry anything.
        _log.warning("batch.callback_failed", error_type=type(exc).__name__)


def _job_events(callback: JobEventCallback, key: str) -> Callable[[WizardEvent], Awaitable[None]]:
    async def forward(event: WizardEvent) -> None:
        await _call(callback, key, event)

    return forward


class _Feed:
    """Hands out ``(index, job)`` pairs to the pool, from a sync or an async iterable, lazily."""

    def __init__(self, jobs: Iterable[BatchJob] | AsyncIterable[BatchJob]) -> None:
        self._sync: Iterator[BatchJob] | None = None
        self._async: AsyncIterator[BatchJob] | None = None
        if isinstance(jobs, AsyncIterable):
            self._async = aiter(jobs)
        else:
            self._sync = iter(jobs)
        self._lock = asyncio.Lock()
        self._next = 0
        self._exhausted = False

    async def next(self) -> tuple[int, BatchJob] | None:
        async with self._lock:
            if self._exhausted:
                return None
            try:
                if self._sync is not None:
                    job = next(self._sync)
                else:
                    assert self._async is not None
                    job = await anext(self._async)
            except (StopIteration, StopAsyncIteration):
                self._exhausted = True
                return None
            index = self._next
            self._next += 1
            return index, job


async def run_many(
    jobs: Iterable[BatchJob] | AsyncIterable[BatchJob],
    *,
    client: BatchClient,
    concurrency: int = DEFAULT_BATCH_CONCURRENCY,
    on_progress: ProgressCallback | None = None,
    on_result: ResultCallback | None = None,
    on_event: JobEventCallback | None = None,
    checkpoint_store: CheckpointStore | None = None,
    checkpoint_prefix: str = "",
    runner_options: Mapping[str, Any] | None = None,
    total: int | None = None,
) -> list[BatchResult]:
    """Run every job's verification, at most ``concurrency`` at once; results in input order.

    - ``jobs``: ``BatchJob``s, a list or any (async) iterable, consumed lazily. Keys must be
      unique (``ConfigurationError`` when a repeated key is reached; that job is not run).
    - ``client``: a ``kycflow.Client``; each job runs on ``client.with_auth(job.auth)``.
    - ``on_progress(BatchProgress)`` once before the first job starts (``done`` and
      ``failed`` 0: a display can draw its bar with ``total``), then after every finished
      job, with the rate so far and an ETA; ``on_result(BatchResult)`` as
      each job finishes (completion order); ``on_event(key, WizardEvent)`` for every runner
      event. Each may be sync or async; their exceptions are logged and ignored.
    - ``checkpoint_store``: runs save progress under ``checkpoint_prefix + key`` and resume
      from it, so re-running a batch after a crash submits nothing twice.
    - ``runner_options``: ``WizardRunner`` keyword arguments for every job (a job's own
      ``runner_options`` win).
    - ``total``: the job count for progress when ``jobs`` has no ``len``.

    A job's exception ends only that job (``BatchResult.ok`` is False). Cancelling the call
    cancels all runs in flight and waits for them to unwind.
    """
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
        raise ConfigurationError("concurrency must be a positive integer")
    if total is None and isinstance(jobs, Sized):
        total = len(jobs)
    shared_options = dict(runner_options or {})
    for reserved in ("checkpoint_store", "checkpoint_key", "on_event"):
        if reserved in shared_options:
            raise ConfigurationError(f"pass {reserved} to run_many, not in runner_options")

    feed = _Feed(jobs)
    results: dict[int, BatchResult] = {}
    seen: set[str] = set()
    counts = {"done": 0, "failed": 0}

    async def run_one(index: int, job: BatchJob) -> BatchResult:
        try:
            if not isinstance(job, BatchJob):
                raise ConfigurationError(f"job {index} is not a BatchJob")
            if job.key in seen:
                raise ConfigurationError(f"job key {job.key!r} is repeated")
            seen.add(job.key)
            _check_root(job.provider)
            events = None if on_event is None else _job_events(on_event, job.key)
            options = {**shared_options, **job.runner_options}
            runner = WizardRunner(
                client if job.auth is None else client.with_auth(job.auth),
                job.provider,
                checkpoint_store=checkpoint_store,
                checkpoint_key=checkpoint_prefix + job.key if checkpoint_store else None,
                on_event=events,
                **options,
            )
            with bound_contextvars(job_key=job.key):
                outcome = await runner.run()
        except Exception as exc:
            # Every failure, ours or the job's, stays with its job.
            return BatchResult(
                key=getattr(job, "key", str(index)), ok=False, index=index, error=exc
            )
        return BatchResult(key=job.key, ok=outcome.succeeded, index=index, result=outcome)

    async def worker() -> None:
        while (item := await feed.next()) is not None:
            index, job = item
            result = await run_one(index, job)
            results[index] = result
            counts["done" if result.ok else "failed"] += 1
            await _call(on_result, result)
            await _call(on_progress, progress())

    started = time.monotonic()

    def progress() -> BatchProgress:
        return BatchProgress(
            counts["done"], counts["failed"], total, elapsed=time.monotonic() - started
        )

    await _call(on_progress, progress())
    # The pool never exceeds the jobs when their number is known (a few tasks saved).
    size = concurrency if total is None else max(1, min(concurrency, total))
    try:
        async with asyncio.TaskGroup() as group:
            for _ in range(size):
                group.create_task(worker())
    except ExceptionGroup as eg:
        # Only the input iterable can fail here; surface its error as itself.
        raise eg.exceptions[0] from None
    return [results[i] for i in sorted(results)]
