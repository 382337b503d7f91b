"""The state of one wizard run: its checkpoint, counters and saves (no I/O but the store's)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence

from .. import _telemetry as telemetry
from .checkpoint import Checkpoint, CheckpointStore, CompletedStep, StepInProgress

__all__ = ["RunState", "default_sleep", "describe_cause"]

default_sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
"""What a runner built without ``sleep=`` waits with (looked up per run: tests swap it)."""


def describe_cause(exc: BaseException | None) -> str:
    """``ClassName: message`` of a failure, short, for a run's final error."""
    if exc is None:
        return "none"
    text = str(exc)
    text = text if len(text) <= 300 else text[:297] + "..."
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class RunState:
    """What one ``run()`` call knows, so a runner may be run again (or concurrently).

    Slotted and built lazily where it can be: thousands of runs may wait at once.
    """

    __slots__ = (
        "_lock",
        "contacted",
        "cp",
        "key",
        "last_error",
        "resumed",
        "retries",
        "run_id",
        "slept",
        "store",
    )

    def __init__(self, run_id: str, key: str, store: CheckpointStore | None) -> None:
        self.run_id = run_id
        self.key = key
        # Without a user's store nobody can read a save back: ``cp`` is the only copy needed.
        self.store = store
        # Validated, not ``model_construct``: pydantic-core builds a small model faster than
        # model_construct's Python loop (which also inspects each default_factory's signature).
        self.cp = Checkpoint(key=key, run_id=run_id)
        self.retries = 0
        self.resumed = False
        self.slept = 0.0
        """Seconds this run waited in its retries and settle delays (a fake clock's too)."""
        self.last_error: BaseException | None = None
        """The last transient failure the run retried or reconciled."""
        self.contacted = False
        """Whether the server has answered this run once: until then a refused connection
        is a wrong address or a server that is down, not worth the run's whole deadline."""
        self._lock: asyncio.Lock | None = None

    @property
    def persist(self) -> bool:
        """Whether saves go anywhere (a user's store)."""
        return self.store is not None

    @property
    def lock(self) -> asyncio.Lock:
        """Serialises saves of concurrent uploads (made on first use)."""
        if self._lock is None:
            self._lock = asyncio.Lock()
        return self._lock

    @property
    def number(self) -> int:
        """The 1-based number of the step being worked on."""
        return len(self.cp.steps) + 1

    async def save(self) -> None:
        """Save the checkpoint to the store, if there is one."""
        if self.store is None:
            return
        async with self.lock:
            await self.save_locked()

    async def save_locked(self) -> None:
        """``save`` for a caller already holding ``lock``."""
        if self.store is None:
            return
        # A deep copy: a store that serialises lazily must not see later mutations.
        await self.store.save(self.key, self.cp.model_copy(deep=True))

    def commit(self, current: StepInProgress, files: Sequence[str], *, reconciled: bool) -> None:
        """Record ``current`` as committed with ``files`` (no save)."""
        telemetry.record_commit(reconciled)
        self.cp.steps.append(
            CompletedStep(
                type_id=current.type_id,
                type_description=current.type_description,
                files=list(files),
                reconciled=reconciled,
            )
        )
        self.cp.current = None
