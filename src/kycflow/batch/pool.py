"""``run_many``: a fixed pool of ``concurrency`` workers pulling jobs from the input lazily."""

from __future__ import annotations

import asyncio
import time
from collections.abc import (
    AsyncIterable,
    AsyncIterator,
    Iterable,
    Iterator,
    Mapping,
    Sized,
)
from typing import Any, Protocol

from structlog.contextvars import bound_contextvars

from .._callbacks import notify
from ..auth import Auth
from ..errors import ConfigurationError, DocumentError
from ..wizard.checkpoint import CheckpointStore
from ..wizard.events import WizardEvent
from ..wizard.providers import DirectoryProvider, FileProvider
from ..wizard.runner import WizardClient, WizardRunner
from .jobs import BatchJob
from .outcomes import BatchProgress, BatchResult, JobEventCallback, ProgressCallback, ResultCallback

__all__ = ["DEFAULT_BATCH_CONCURRENCY", "BatchClient", "run_many"]

DEFAULT_BATCH_CONCURRENCY = 10
_FAILED = "batch.callback_failed"


class BatchClient(WizardClient, Protocol):
    """What ``run_many`` needs of a client: ``kycflow.Client`` (its ``with_auth`` views run the
    jobs, all over the one connection pool)."""

    def with_auth(self, auth: Auth | None, /) -> WizardClient: ...


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


def _check_root(provider: FileProvider) -> None:
    """A ``DirectoryProvider`` whose directory is missing fails its job before any request,
    naming the path (the provider itself would find out only when the wizard asks)."""
    if isinstance(provider, DirectoryProvider) and not provider.root.is_dir():
        raise DocumentError(f"documents directory not found: {provider.root}")


class _Batch:
    """One ``run_many`` call: the shared settings, the results and the counts."""

    def __init__(
        self,
        client: BatchClient,
        options: Mapping[str, Any],
        on_event: JobEventCallback | None,
        checkpoint_store: CheckpointStore | None,
        checkpoint_prefix: str,
    ) -> None:
        self.client = client
        self.options = options
        self.on_event = on_event
        self.store = checkpoint_store
        self.prefix = checkpoint_prefix
        self.results: dict[int, BatchResult] = {}
        self.seen: set[str] = set()
        self.done = 0
        self.failed = 0
        self.started = time.monotonic()

    def progress(self, total: int | None) -> BatchProgress:
        elapsed = time.monotonic() - self.started
        return BatchProgress(self.done, self.failed, total, elapsed=elapsed)

    def _runner(self, job: BatchJob) -> WizardRunner:
        on_event = self.on_event
        key = job.key

        async def events(event: WizardEvent) -> None:
            await notify(on_event, key, event, failure_event=_FAILED)

        return WizardRunner(
            self.client if job.auth is None else self.client.with_auth(job.auth),
            job.provider,
            checkpoint_store=self.store,
            checkpoint_key=self.prefix + key if self.store else None,
            on_event=None if on_event is None else events,
            **{**self.options, **job.runner_options},
        )

    async def run_one(self, index: int, job: BatchJob) -> BatchResult:
        """The job's run; every failure, ours or the job's, stays with its job."""
        try:
            if not isinstance(job, BatchJob):
                raise ConfigurationError(f"job {index} is not a BatchJob")
            if job.key in self.seen:
                raise ConfigurationError(f"job key {job.key!r} is repeated")
            self.seen.add(job.key)
            _check_root(job.provider)
            runner = self._runner(job)
            with bound_contextvars(job_key=job.key):
                outcome = await runner.run()
        except Exception as exc:
            key = getattr(job, "key", str(index))
            return BatchResult(key=key, ok=False, index=index, error=exc)
        return BatchResult(key=job.key, ok=outcome.succeeded, index=index, result=outcome)

    def record(self, result: BatchResult) -> None:
        self.results[result.index] = result
        if result.ok:
            self.done += 1
        else:
            self.failed += 1


async def _worker(
    batch: _Batch,
    feed: _Feed,
    total: int | None,
    on_result: ResultCallback | None,
    on_progress: ProgressCallback | None,
) -> None:
    while (item := await feed.next()) is not None:
        result = await batch.run_one(*item)
        batch.record(result)
        await notify(on_result, result, failure_event=_FAILED)
        await notify(on_progress, batch.progress(total), failure_event=_FAILED)


def _shared_options(runner_options: Mapping[str, Any] | None) -> dict[str, Any]:
    options = dict(runner_options or {})
    for reserved in ("checkpoint_store", "checkpoint_key", "on_event"):
        if reserved in options:
            raise ConfigurationError(f"pass {reserved} to run_many, not in runner_options")
    return options


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
    options = _shared_options(runner_options)
    batch = _Batch(client, options, on_event, checkpoint_store, checkpoint_prefix)
    feed = _Feed(jobs)
    await notify(on_progress, batch.progress(total), failure_event=_FAILED)
    # The pool never exceeds the jobs when their number is known (a few tasks saved).
    size = concurrency if total is None else max(1, min(concurrency, total))
    try:
        async with asyncio.TaskGroup() as group:
            for _ in range(size):
                group.create_task(_worker(batch, feed, total, on_result, on_progress))
    except ExceptionGroup as eg:
        # Only the input iterable can fail here; surface its error as itself.
        raise eg.exceptions[0] from None
    return [batch.results[i] for i in sorted(batch.results)]
