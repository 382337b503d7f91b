"""Checkpoints: what a WizardRunner has done, so that a crashed run can resume without
uploading or submitting anything twice.

A ``Checkpoint`` is a JSON-serialisable pydantic model (``model_dump_json`` /
``model_validate_json``). It holds stored paths and type ids, never document bytes or tokens.
The runner saves it after every upload, before every submit (marked in flight) and after it.
When a run completes, its checkpoint is saved once more with ``done=True`` rather than deleted,
so that a dashboard can still show the outcome; a later run under the same key ignores a done
checkpoint and starts afresh.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from json.encoder import encode_basestring_ascii
from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

from ..models import WizardStep
from .leases import Lease, MemoryLeases, OnBusy

__all__ = [
    "Checkpoint",
    "CheckpointStore",
    "CompletedStep",
    "MemoryCheckpointStore",
    "StepInProgress",
    "UploadedFile",
    "step_signature",
]

CHECKPOINT_VERSION = 1
# JSON's own string quoting (``ensure_ascii``, in C): what ``json.dumps`` writes for a str.
_quote = encode_basestring_ascii


def step_signature(step: WizardStep) -> str:
    """``step.signature()`` plus its uuid, as a JSON string that survives a round trip (the
    bytes ``json.dumps([uuid, code, workflow, [ids]], separators=(",", ":"))`` writes)."""
    code, workflow, ids = step.signature()
    return f"[{_quote(step.uuid)},{int(code)},{_quote(workflow)},[{','.join(map(str, ids))}]]"


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore")


class UploadedFile(_Model):
    """A file of the step in progress that is already stored on the server."""

    index: int
    name: str
    path: str


class CompletedStep(_Model):
    """A committed step: the document type submitted and the stored paths of its files."""

    type_id: int
    type_description: str = ""
    files: list[str] = Field(default_factory=list)
    reconciled: bool = False


class StepInProgress(_Model):
    """The step being worked on: its signature, the chosen type, the files already uploaded,
    and whether a submit of it may have reached the server (``submit_in_flight``)."""

    signature: str
    type_id: int
    type_description: str = ""
    uploads: list[UploadedFile] = Field(default_factory=list)
    submit_in_flight: bool = False
    submitted_files: list[str] = Field(default_factory=list)

    def uploaded_path(self, index: int, name: str) -> str | None:
        """The stored path of file ``index`` if it was uploaded under the same name."""
        for up in self.uploads:
            if up.index == index and up.name == name:
                return up.path
        return None


class Checkpoint(_Model):
    """The durable state of one wizard run, keyed by ``key``."""

    version: int = CHECKPOINT_VERSION
    key: str
    run_id: str = ""
    uuid: str | None = None
    steps: list[CompletedStep] = Field(default_factory=list)
    current: StepInProgress | None = None
    done: bool = False

    @property
    def submit_in_flight(self) -> bool:
        """True when a submit may have reached the server without its outcome being known."""
        return self.current is not None and self.current.submit_in_flight

    def uploaded_paths(self) -> list[str]:
        """Every stored path this checkpoint knows of, committed steps first."""
        out = [path for step in self.steps for path in step.files]
        if self.current is not None:
            out.extend(up.path for up in self.current.uploads)
        return out


@runtime_checkable
class CheckpointStore(Protocol):
    """Where checkpoints live. ``save`` replaces the checkpoint under ``key``."""

    async def load(self, key: str) -> Checkpoint | None:
        """The checkpoint saved under ``key``, or ``None``."""
        ...

    async def save(self, key: str, checkpoint: Checkpoint) -> None:
        """Store ``checkpoint`` under ``key``."""
        ...

    async def delete(self, key: str) -> None:
        """Forget ``key`` (no error if absent)."""
        ...


class MemoryCheckpointStore:
    """A process-local store. It keeps the JSON form, so every save is a real serialisation
    and a loaded checkpoint never aliases the runner's live state.

    It leases keys per process (``kycflow.wizard.leases``): a second run of a key that a run of this
    process holds fails with ``RunInProgressError`` (``on_busy="fail"``) or waits for it
    (``"wait"``, at most ``lease_wait`` seconds; None: as long as it takes).
    """

    def __init__(self, *, on_busy: OnBusy = "fail", lease_wait: float | None = None) -> None:
        self._data: dict[str, str] = {}
        self._lock = asyncio.Lock()
        self._leases = MemoryLeases(on_busy, lease_wait)

    def lease(self, key: str, owner: str) -> AbstractAsyncContextManager[Lease]:
        """Hold ``key`` for the ``async with`` block (one run per key in this process)."""
        return self._leases.lease(key, owner)

    def __repr__(self) -> str:
        return f"MemoryCheckpointStore(keys={len(self._data)})"

    @property
    def keys(self) -> Sequence[str]:
        """The keys held."""
        return sorted(self._data)

    async def load(self, key: str) -> Checkpoint | None:
        """The checkpoint saved under ``key``, or ``None``."""
        async with self._lock:
            raw = self._data.get(key)
        return None if raw is None else Checkpoint.model_validate_json(raw)

    async def save(self, key: str, checkpoint: Checkpoint) -> None:
        """Store ``checkpoint`` under ``key``."""
        raw = checkpoint.model_dump_json()
        async with self._lock:
            self._data[key] = raw

    async def delete(self, key: str) -> None:
        """Forget ``key``."""
        async with self._lock:
            self._data.pop(key, None)

    def dump(self) -> dict[str, Any]:
        """A snapshot of every checkpoint as plain JSON data (for tests and debugging)."""
        return {key: json.loads(raw) for key, raw in self._data.items()}
