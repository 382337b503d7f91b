"""Typed progress events of a WizardRunner run.

Every event carries the ``run_id`` and the 1-based ``step`` number it belongs to, plus the
document type id where relevant; never file content, tokens or other secrets. ``to_dict()``
gives a JSON-ready dict (with an ``event`` key holding the event's name, e.g.
``"wizard.step_started"``) that a web app can push to a browser as live progress.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, ClassVar

from .._schema import event_dict

__all__ = [
    "Completed",
    "Failed",
    "FileUploaded",
    "Retrying",
    "StepRefused",
    "StepStarted",
    "StepSubmitted",
    "WizardEvent",
]


@dataclass(frozen=True, kw_only=True)
class WizardEvent:
    """Base of every runner event. ``name`` is the structlog event name."""

    name: ClassVar[str] = "wizard.event"

    run_id: str
    step: int
    timestamp: float = field(default_factory=time.time)

    def to_dict(self) -> dict[str, Any]:
        """The event as plain JSON data, with its name under ``"event"`` (docs/cli.md, "JSON
        output": ``kind: "event"``)."""
        return event_dict(self)


@dataclass(frozen=True, kw_only=True)
class StepStarted(WizardEvent):
    """A wizard step is being worked on; ``type_ids`` are the enabled types it offers,
    ``type_id`` the one chosen."""

    name: ClassVar[str] = "wizard.step_started"

    uuid: str
    workflow: str
    type_ids: tuple[int, ...]
    type_id: int
    file_count: int
    resumed: bool = False


@dataclass(frozen=True, kw_only=True)
class FileUploaded(WizardEvent):
    """A file of the step is stored on the server (``reused``: by an earlier attempt or run)."""

    name: ClassVar[str] = "wizard.file_uploaded"

    type_id: int
    index: int
    file_name: str
    size: int | None
    path: str
    reused: bool = False


@dataclass(frozen=True, kw_only=True)
class StepSubmitted(WizardEvent):
    """The step is committed. ``reconciled``: its outcome was learned by re-reading the
    wizard after an ambiguous failure. ``next_code`` is the code of the step that follows."""

    name: ClassVar[str] = "wizard.step_submitted"

    type_id: int
    file_count: int
    next_code: int
    reconciled: bool = False


@dataclass(frozen=True, kw_only=True)
class StepRefused(WizardEvent):
    """The server refused the submitted document (it asked for the same step again): nothing
    was committed. ``reason`` is the server's stated reason, if it gave one; ``retry_type_ids``
    are the supplied types the runner tries next (empty: none left, the run fails)."""

    name: ClassVar[str] = "wizard.step_refused"

    type_id: int
    reason: str | None
    retry_type_ids: tuple[int, ...] = ()


@dataclass(frozen=True, kw_only=True)
class Retrying(WizardEvent):
    """A request is tried again (``action`` is ``"upload"``, ``"submit"`` or ``"read"``, the
    wizard being read again) after ``reason`` (an error class name)."""

    name: ClassVar[str] = "wizard.retrying"

    action: str
    type_id: int | None
    attempt: int
    reason: str


@dataclass(frozen=True, kw_only=True)
class Completed(WizardEvent):
    """The wizard reached its final step (code 202). ``step`` is the number of steps committed.
    ``outcome`` is ``"completed"``, or ``"ended_without_success"`` for a 202 with
    ``done: false``."""

    name: ClassVar[str] = "wizard.completed"

    uuid: str
    workflow: str
    retries: int
    resumed: bool
    outcome: str = "completed"


@dataclass(frozen=True, kw_only=True)
class Failed(WizardEvent):
    """The run failed with ``error`` (a class name) and its message."""

    name: ClassVar[str] = "wizard.failed"

    error: str
    message: str
