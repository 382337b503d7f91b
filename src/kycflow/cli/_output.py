"""What the CLI prints: JSON data of results, pages and errors, and rich tables.

``rich`` (the ``cli`` extra) is imported only inside the functions that draw with it, so
``kycflow --help`` and ``kycflow sandbox`` work without it.
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any, TextIO

from .._schema import (
    ErrorDocument,
    PartialRunDict,
    VerificationPageDict,
    WizardResultDict,
    error_document,
    page_dict,
    wizard_result_dict,
)
from ..models import VerificationPage
from ..wizard.runner import WizardResult
from ._errors import Interrupted, UsageError, describe_error, exit_code_for
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


def error_to_dict(exc: BaseException, partial: PartialRunDict | None = None) -> ErrorDocument:
    """The error as the ``--json`` document of a failed command (``kind: "error"``)."""
    if isinstance(exc, KeyboardInterrupt):
        exc = Interrupted()
    document = error_document(
        exc,
        exit_code=exit_code_for(exc),
        message=secrets.scrub(describe_error(exc)),
        partial=partial,
    )
    error = document["error"]
    if error["server_message"] is not None:
        error["server_message"] = secrets.scrub(error["server_message"])
    return document


def print_json(data: Any, stream: TextIO | None = None) -> None:
    """One JSON document on stdout."""
    out = stream or sys.stdout
    out.write(secrets.scrub(json.dumps(data, indent=2, default=str)) + "\n")
    out.flush()


def result_to_dict(result: WizardResult) -> WizardResultDict:
    """A run's result as JSON data (``kind: "wizard_result"``)."""
    return wizard_result_dict(result)


def page_to_dict(page: VerificationPage) -> VerificationPageDict:
    """A history page as JSON data (``kind: "verification_page"``, snake_case)."""
    return page_dict(page)


def require_rich(what: str = "this command", *, alternative: str = "--json") -> None:
    """Raise ``UsageError`` (exit 2) when rich, the ``cli`` extra, is missing."""
    try:
        import rich  # noqa: F401 - only whether it imports
    except ImportError:
        raise UsageError(
            f"{what} draws with rich, which is not installed: pip install 'kycflow[cli]'"
            f" (or use {alternative})"
        ) from None


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
