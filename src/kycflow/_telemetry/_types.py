"""What the telemetry hooks read of the runner's objects (typed here, so no import is needed)."""

from __future__ import annotations

from typing import Any, Protocol

__all__ = ["CommittedStep", "RunStateView"]


class CommittedStep(Protocol):
    """What a step span reads of a committed step (``checkpoint.CompletedStep``)."""

    @property
    def type_id(self) -> int: ...

    @property
    def files(self) -> list[str]: ...

    @property
    def reconciled(self) -> bool: ...


class _Checkpoint(Protocol):
    @property
    def steps(self) -> list[Any]: ...


class RunStateView(Protocol):
    """What a run span reads of a run when it ends (``_run_state.RunState``)."""

    @property
    def cp(self) -> _Checkpoint: ...

    @property
    def retries(self) -> int: ...

    @property
    def resumed(self) -> bool: ...
