"""The live progress view of a wizard run, drawn with rich from the runner's events.

``rich`` is imported only when the view is drawn, so importing this module does not need it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .._schema import PartialRunDict, StepDict
from ..wizard.events import (
    Completed,
    Failed,
    FileUploaded,
    Retrying,
    StepRefused,
    StepStarted,
    StepSubmitted,
    WizardEvent,
)

if TYPE_CHECKING:
    from rich.console import Console, RenderableType
    from rich.live import Live

__all__ = ["ProgressView", "RunRecorder"]


class RunRecorder:
    """What a run has done so far, from its events: the ``partial`` of an error document."""

    def __init__(self, describe: Callable[[int], str] = lambda type_id: "") -> None:
        self.describe = describe
        self.run_id: str | None = None
        self.uuid: str | None = None
        self._files: dict[int, list[str]] = {}
        self._steps: list[StepDict] = []

    def on_event(self, event: WizardEvent) -> None:
        """Record one runner event."""
        self.run_id = event.run_id
        if isinstance(event, StepStarted):
            self.uuid = event.uuid
            self._files[event.step] = []
        elif isinstance(event, FileUploaded):
            self._files.setdefault(event.step, []).append(event.path)
        elif isinstance(event, StepSubmitted):
            self._steps.append(
                {
                    "index": event.step,
                    "type_id": event.type_id,
                    "type_description": self.describe(event.type_id),
                    "files": list(self._files.get(event.step, ())),
                    "reconciled": event.reconciled,
                }
            )

    def partial(self) -> PartialRunDict | None:
        """The run so far, or ``None`` when the runner never started."""
        if self.run_id is None:
            return None
        return {"run_id": self.run_id, "uuid": self.uuid, "steps": list(self._steps)}


@dataclass
class _Row:
    type_label: str
    files_total: int
    files_done: int = 0
    status: str = "uploading"


class ProgressView:
    """Live progress of a run, drawn from the runner's events (use as a context manager and
    pass ``on_event`` to the runner)."""

    def __init__(self, console: Console, describe: Callable[[int], str]) -> None:
        self.console = console
        self.describe = describe
        self.rows: dict[int, _Row] = {}
        self.footer = "Starting the verification wizard..."
        self._live: Live | None = None

    def __enter__(self) -> ProgressView:
        from rich.live import Live

        self._live = Live(
            self._render(), console=self.console, refresh_per_second=10, transient=False
        )
        self._live.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._live is not None:
            self._live.update(self._render())
            self._live.stop()
            self._live = None
            if not self.console.is_terminal:
                # Off a terminal, rich prints the last frame without its final newline.
                self.console.line()

    def on_event(self, event: WizardEvent) -> None:
        """Update the display for one runner event."""
        if isinstance(event, StepStarted):
            self.rows[event.step] = _Row(self.describe(event.type_id), event.file_count)
            self.footer = f"Step {event.step}: uploading {event.file_count} file(s)"
        elif isinstance(event, FileUploaded):
            row = self.rows.get(event.step)
            if row is not None:
                row.files_done = min(row.files_total, row.files_done + 1)
                if row.files_done == row.files_total:
                    row.status = "submitting"
        elif isinstance(event, StepSubmitted):
            row = self.rows.get(event.step)
            if row is not None:
                row.files_done = row.files_total
                row.status = "submitted (reconciled)" if event.reconciled else "submitted"
            self.footer = f"Step {event.step} submitted"
        elif isinstance(event, Retrying):
            row = self.rows.get(event.step)
            if row is not None:
                row.status = f"retrying {event.action} ({event.reason}, try {event.attempt})"
        elif isinstance(event, StepRefused):
            row = self.rows.get(event.step)
            if row is not None:
                row.status = f"refused: {event.reason}" if event.reason else "refused"
        elif isinstance(event, Completed) and event.outcome != "completed":
            self.footer = f"The wizard ended without success after {event.step} step(s)"
        elif isinstance(event, Completed):
            self.footer = f"Verification complete: {event.step} step(s) submitted"
        elif isinstance(event, Failed):
            row = self.rows.get(event.step)
            if row is not None:
                row.status = f"failed ({event.error})"
            self.footer = f"Failed at step {event.step}: {event.error}"
        if self._live is not None:
            self._live.update(self._render())

    def _render(self) -> RenderableType:
        from rich.console import Group
        from rich.table import Table
        from rich.text import Text

        table = Table(title="Verification wizard", title_justify="left")
        table.add_column("Step", justify="right")
        table.add_column("Document type")
        table.add_column("Files", justify="right")
        table.add_column("Status")
        for number, row in sorted(self.rows.items()):
            style = "green" if row.status.startswith("submitted") else ""
            table.add_row(
                str(number),
                row.type_label,
                f"{row.files_done}/{row.files_total}",
                Text(row.status, style=style),
            )
        return Group(table, Text(self.footer, style="bold"))
