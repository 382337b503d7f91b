"""The state of one wizard run: its checkpoint, counters and saves (no I/O but the store's).

A run keeps its checkpoint in small slotted objects (``LiveCheckpoint`` and its parts), with
the attributes of the public pydantic models: thousands of runs may wait at once, and a model
costs a dict and a set per object, and a validation per change. The ``Checkpoint`` model is
built only for a store (each save) and read back from one (a resume).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence

from .. import _telemetry as telemetry
from .checkpoint import Checkpoint, CheckpointStore

__all__ = [
    "LiveCheckpoint",
    "LiveCompletedStep",
    "LiveStepInProgress",
    "LiveUpload",
    "RunState",
    "default_sleep",
    "describe_cause",
]

default_sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
"""What a runner built without ``sleep=`` waits with (looked up per run: tests swap it)."""


def describe_cause(exc: BaseException | None) -> str:
    """``ClassName: message`` of a failure, short, for a run's final error."""
    if exc is None:
        return "none"
    text = str(exc)
    text = text if len(text) <= 300 else text[:297] + "..."
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class LiveUpload:
    """A file of the step in progress already stored (``checkpoint.UploadedFile``)."""

    __slots__ = ("index", "name", "path")

    def __init__(self, index: int, name: str, path: str) -> None:
        self.index = index
        self.name = name
        self.path = path


class LiveCompletedStep:
    """A committed step (``checkpoint.CompletedStep``)."""

    __slots__ = ("files", "reconciled", "type_description", "type_id")

    def __init__(
        self, type_id: int, type_description: str, files: list[str], reconciled: bool
    ) -> None:
        self.type_id = type_id
        self.type_description = type_description
        self.files = files
        self.reconciled = reconciled


class LiveStepInProgress:
    """The step being worked on (``checkpoint.StepInProgress``)."""

    __slots__ = (
        "signature",
        "submit_in_flight",
        "submitted_files",
        "type_description",
        "type_id",
        "uploads",
    )

    def __init__(self, signature: str, type_id: int, type_description: str) -> None:
        self.signature = signature
        self.type_id = type_id
        self.type_description = type_description
        self.uploads: list[LiveUpload] = []
        self.submit_in_flight = False
        self.submitted_files: Sequence[str] = ()  # a list once a submit is sent

    def uploaded_path(self, index: int, name: str) -> str | None:
        """The stored path of file ``index`` if it was uploaded under the same name."""
        for up in self.uploads:
            if up.index == index and up.name == name:
                return up.path
        return None


class LiveCheckpoint:
    """A run's checkpoint as the run keeps it (``checkpoint.Checkpoint``)."""

    __slots__ = ("current", "done", "key", "loaded", "run_id", "steps", "uuid")

    def __init__(self, key: str, run_id: str) -> None:
        self.loaded: Checkpoint | None = None
        """What a store handed back, for a resumed run: its saves keep that object's class,
        version and own fields."""
        self.key = key
        self.run_id = run_id
        self.uuid: str | None = None
        self.steps: list[LiveCompletedStep] = []
        self.current: LiveStepInProgress | None = None
        self.done = False

    @classmethod
    def of(cls, checkpoint: Checkpoint) -> LiveCheckpoint:
        """The live form of a checkpoint a store handed back."""
        live = cls(checkpoint.key, checkpoint.run_id)
        live.loaded = checkpoint
        live.uuid = checkpoint.uuid
        live.done = checkpoint.done
        live.steps = [
            LiveCompletedStep(s.type_id, s.type_description, list(s.files), s.reconciled)
            for s in checkpoint.steps
        ]
        saved = checkpoint.current
        if saved is not None:
            current = live.current = LiveStepInProgress(
                saved.signature, saved.type_id, saved.type_description
            )
            current.uploads = [LiveUpload(u.index, u.name, u.path) for u in saved.uploads]
            current.submit_in_flight = saved.submit_in_flight
            current.submitted_files = list(saved.submitted_files)
        return live

    def to_checkpoint(self) -> Checkpoint:
        """A ``Checkpoint`` of this state, sharing no list with it (a store may keep it); a
        resumed run's keeps the type, version and own fields of the one its store handed back."""
        fresh = Checkpoint.model_validate(self, from_attributes=True)
        loaded = self.loaded
        if loaded is None:
            return fresh
        kept = loaded.model_dump()
        return type(loaded).model_validate({**kept, **fresh.model_dump(exclude={"version"})})


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
        self.cp = LiveCheckpoint(key, run_id)
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
        await self.store.save(self.key, self.cp.to_checkpoint())

    def commit(
        self, current: LiveStepInProgress, files: Sequence[str], *, reconciled: bool
    ) -> None:
        """Record ``current`` as committed with ``files`` (no save)."""
        telemetry.record_commit(reconciled)
        step = LiveCompletedStep(current.type_id, current.type_description, list(files), reconciled)
        self.cp.steps.append(step)
        self.cp.current = None
