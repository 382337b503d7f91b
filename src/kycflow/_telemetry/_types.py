"""What the telemetry hooks read of the runner's objects (typed here, so no import is needed)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from types import TracebackType

__all__ = ["NULL", "Block", "CommittedStep", "NullHandle", "RunStateView"]


class Block:
    """A hook's ``with`` block: its end calls ``close`` with the exception's type, if any."""

    __slots__ = ()

    def __enter__(self) -> Any:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close(exc_type)

    def close(self, exc_type: type[BaseException] | None) -> None:
        """Record how the block ended (``exc_type``: None, or what it raised)."""


class CommittedStep(Protocol):
    """What a step span reads of a committed step (``checkpoint.CompletedStep``)."""

    @property
    def type_id(self) -> int: ...

    @property
    def files(self) -> list[str]: ...

    @property
    def reconciled(self) -> bool: ...


class NullHandle(Block):
    """The span handle of every hook while nothing is recorded: stateless, shared (``NULL``)."""

    __slots__ = ()

    def status(self, code: int) -> None:
        """Note the HTTP reply's status code."""

    def committed(self, step: CommittedStep, *, refused: bool) -> None:
        """Note the step's outcome: the step committed, and whether the server re-asked it."""

    def refused(self, type_id: int) -> None:
        """Note that the server refused the step's submit of ``type_id`` (asked the step again)."""


NULL = NullHandle()


class _Checkpoint(Protocol):
    @property
    def steps(self) -> list[Any]: ...


class RunStateView(Protocol):
    """What a run span reads of a run when it ends (``kycflow.wizard.state.RunState``)."""

    @property
    def cp(self) -> _Checkpoint: ...

    @property
    def retries(self) -> int: ...

    @property
    def resumed(self) -> bool: ...
