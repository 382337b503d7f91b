"""What the CLI prints: JSON data of results, pages and errors, and rich tables.

``rich`` (the ``cli`` extra) is imported only inside the functions that draw with it, so
``kycflow --help`` and ``kycflow sandbox`` work without it.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from typing import TYPE_CHECKING, Any, TextIO

from ..errors import APIStatusError, MissingDocumentError, WizardError
from ..models import DocumentType, VerificationPage
from ..runner import WizardResult
from ._errors import UsageError, describe_error, exit_code_for, retry_after_of
from ._secrets import secrets

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

__all__ = [
    "error_to_dict",
    "history_table",
    "make_console",
    "page_to_dict",
    "print_json",
    "require_rich",
    "result_to_dict",
]


def error_to_dict(exc: BaseException) -> dict[str, Any]:
    """The error as JSON data for ``--json`` output."""
    data: dict[str, Any] = {
        "error": type(exc).__name__,
        "message": secrets.scrub(describe_error(exc)),
        "exit_code": exit_code_for(exc),
    }
    if isinstance(exc, APIStatusError):
        data["status"] = exc.status
        data["request_id"] = exc.request_id
        data["server_message"] = secrets.scrub(exc.message)
        data["details"] = exc.details
    retry_after = retry_after_of(exc)
    if retry_after is not None:
        data["retry_after"] = retry_after
    for name in ("workflow", "step", "reason"):  # UnsupportedWizardError, StepRefusedError
        if isinstance(exc, WizardError) and getattr(exc, name, None) is not None:
            data[name] = getattr(exc, name)
    if isinstance(exc, MissingDocumentError):
        data["requested"] = [
            {"id": t.id, "description": t.description}
            for t in exc.requested
            if isinstance(t, DocumentType)
        ]
    return data


def print_json(data: Any, stream: TextIO | None = None) -> None:
    """One JSON document on stdout."""
    out = stream or sys.stdout
    out.write(secrets.scrub(json.dumps(data, indent=2, default=str)) + "\n")
    out.flush()


def result_to_dict(result: WizardResult) -> dict[str, Any]:
    """A run's result as JSON data."""
    return {
        "done": result.done,
        "outcome": result.outcome,
        "run_id": result.run_id,
        "uuid": result.uuid,
        "workflow": result.workflow,
        "retries": result.retries,
        "resumed": result.resumed,
        "steps": [
            {
                "index": s.index,
                "type_id": s.type_id,
                "type_description": s.type_description,
                "files": list(s.files),
                "reconciled": s.reconciled,
            }
            for s in result.steps
        ],
    }


def page_to_dict(page: VerificationPage) -> dict[str, Any]:
    """A history page as JSON data (the API's field names)."""
    return {
        "total": page.total,
        "data": [v.model_dump(mode="json", by_alias=True) for v in page.data],
    }


def require_rich() -> None:
    """Raise ``UsageError`` (exit 2) when rich, the ``cli`` extra, is missing."""
    if importlib.util.find_spec("rich") is None:
        raise UsageError(
            "this command draws with rich, which is not installed: pip install 'kycflow[cli]'"
        )


def make_console(stream: TextIO | None = None) -> Console:
    """A rich console on stdout (or ``stream``)."""
    require_rich()
    from rich.console import Console

    return Console(file=stream or sys.stdout, highlight=False, soft_wrap=False)


def history_table(page: VerificationPage, *, title: str = "Verification history") -> Table:
    """The history page as a rich table."""
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    table.add_column("ID", justify="right")
    table.add_column("Created")
    table.add_column("Level")
    table.add_column("Previous level")
    table.add_column("Reason")
    for v in page.data:
        table.add_row(
            str(v.id),
            v.create_time.strftime("%Y-%m-%d %H:%M:%S") if v.create_time else "-",
            v.current_level.name if v.current_level else "-",
            v.previous_level.name if v.previous_level else "-",
            (v.reason.name or "-") if v.reason else "-",
        )
    if not page.data:
        table.caption = "no verifications"
    elif page.total > len(page.data):
        table.caption = f"{len(page.data)} of {page.total} (use --limit for more)"
    return table
