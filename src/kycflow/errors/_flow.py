"""Errors of documents, checkpoints, the wizard run and level waits."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..models import DocumentType
from ._api import ConfigurationError, KycflowError

__all__ = [
    "CheckpointError",
    "CursorStoreError",
    "DocumentError",
    "LeaseLostError",
    "LevelTimeoutError",
    "MissingDocumentError",
    "RunInProgressError",
    "StepRefusedError",
    "UnknownLevelError",
    "UnsupportedWizardError",
    "WizardDeadlineError",
    "WizardError",
    "WizardStalledError",
    "WizardStepLimitError",
]


class DocumentError(KycflowError):
    """A local document is missing, empty, too large, or of a disallowed or mismatched type.

    Raised before any request is made for it. ``name`` is the document's file name (never its
    content).
    """

    def __init__(self, message: str, *, name: str | None = None):
        super().__init__(message)
        self.name = name


class CheckpointError(KycflowError):
    """A checkpoint store could not load, save or delete a checkpoint (its backend failed, or
    the stored data is not a checkpoint). ``key`` names the checkpoint."""

    def __init__(self, message: str, *, key: str | None = None):
        super().__init__(message)
        self.key = key


class LeaseLostError(CheckpointError):
    """A run's lease on its checkpoint key expired and another run took it: this run stops
    before it saves or submits anything more."""


class RunInProgressError(KycflowError):
    """Another run holds the lease on this checkpoint key (``key``): a second run of the same
    key fails fast (or, with ``on_busy="wait"``, after waiting in vain) and submits nothing."""

    def __init__(self, message: str, *, key: str | None = None):
        super().__init__(message)
        self.key = key


class WizardError(KycflowError):
    """The verification wizard could not be driven to completion."""


class MissingDocumentError(WizardError):
    """A step asks only for document types the file provider cannot supply; ``requested``
    lists the types the step offered."""

    requested: list[DocumentType]

    def __init__(self, message: str, *, requested: Sequence[DocumentType] = ()):
        super().__init__(message)
        self.requested = list(requested)


class WizardStalledError(WizardError):
    """The wizard returned the same step too many times in a row."""


class StepRefusedError(WizardStalledError):
    """The server refused the step's documents (it asked for the same step again) and no other
    supplied type is left to try. ``step`` is the step's number (from 1), ``type_ids`` the types
    refused, ``reason`` the server's last stated reason (None if it gave none)."""

    def __init__(
        self, message: str, *, step: int, type_ids: Sequence[int] = (), reason: str | None = None
    ):
        super().__init__(message)
        self.step = step
        self.type_ids = list(type_ids)
        self.reason = reason


class UnsupportedWizardError(WizardError):
    """The level's wizard cannot be driven through the API: it is a third-party KYC SDK (the
    ``workflow`` names it), or a step carries no document types at all."""

    def __init__(self, message: str, *, workflow: str, step: int | None = None):
        super().__init__(message)
        self.workflow = workflow
        self.step = step


class WizardStepLimitError(WizardError):
    """The run took more steps than ``max_steps``."""


class WizardDeadlineError(WizardError, TimeoutError):
    """The run's overall deadline passed. ``last_error`` is the last transient failure the
    run was retrying when time ran out (None if it was not retrying)."""

    def __init__(self, message: str, *, last_error: BaseException | None = None):
        super().__init__(message)
        self.last_error = last_error


class UnknownLevelError(ConfigurationError):
    """A level name matches none of the levels known (``known``: the names seen or given)."""

    def __init__(self, message: str, *, level: object = None, known: Sequence[str] = ()):
        super().__init__(message)
        self.level = level
        self.known = list(known)


class LevelTimeoutError(KycflowError, TimeoutError):
    """The awaited level was not granted within the timeout.

    ``last_seen`` is the newest history entry seen (a ``Verification``, or None), ``levels_seen``
    the level names seen in the history, ``polls`` the history reads made and ``last_error`` the
    last transient error (None if the last read succeeded).
    """

    def __init__(
        self,
        message: str,
        *,
        level: object = None,
        timeout: float = 0.0,
        last_seen: Any = None,
        levels_seen: Sequence[str] = (),
        polls: int = 0,
        last_error: BaseException | None = None,
    ):
        super().__init__(message)
        self.level = level
        self.timeout = timeout
        self.last_seen = last_seen
        self.levels_seen = list(levels_seen)
        self.polls = polls
        self.last_error = last_error


class CursorStoreError(KycflowError):
    """A watcher's cursor store could not be reached, or holds data that is not a cursor."""

    def __init__(self, message: str, *, key: str | None = None):
        super().__init__(message)
        self.key = key
