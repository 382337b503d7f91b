"""What every subcommand shares: auth from arguments, exit codes, error output, progress.

``rich`` (the ``cli`` extra) is imported only inside the functions that draw with it, so
``kycflow --help`` and ``kycflow sandbox`` work without it.
"""

from __future__ import annotations

import argparse
import getpass
import importlib.util
import json
import logging
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, TextIO

import structlog
from pydantic import SecretStr

from .._logging import redact_processor
from ..auth import Auth, BearerToken
from ..client import Client
from ..documents import Document
from ..errors import (
    APIError,
    APIStatusError,
    AuthenticationError,
    ConfigurationError,
    DocumentError,
    KycflowError,
    MissingDocumentError,
    WizardError,
)
from ..events import (
    Completed,
    Failed,
    FileUploaded,
    Retrying,
    StepStarted,
    StepSubmitted,
    WizardEvent,
)
from ..models import DocumentType, VerificationPage
from ..providers import FileProvider
from ..runner import WizardResult

if TYPE_CHECKING:
    from rich.console import Console, RenderableType
    from rich.live import Live
    from rich.table import Table

__all__ = [
    "EXIT_API",
    "EXIT_MISSING_DOCUMENTS",
    "EXIT_OK",
    "EXIT_USAGE",
    "AuthArgs",
    "DescribingProvider",
    "ProgressView",
    "Secrets",
    "Subparsers",
    "UsageError",
    "add_auth_arguments",
    "add_common_arguments",
    "authenticate",
    "configure_cli_logging",
    "exit_code_for",
    "history_table",
    "page_to_dict",
    "report_error",
    "require_rich",
    "resolve_auth",
    "result_to_dict",
    "secrets",
]

EXIT_OK = 0
EXIT_API = 1
EXIT_USAGE = 2
EXIT_MISSING_DOCUMENTS = 3
EXIT_INTERRUPTED = 130

ENV_BASE_URL = "KYCFLOW_BASE_URL"
ENV_TOKEN = "KYCFLOW_TOKEN"
ENV_PASSWORD = "KYCFLOW_PASSWORD"

if TYPE_CHECKING:
    Subparsers = argparse._SubParsersAction[argparse.ArgumentParser]
else:
    Subparsers = argparse._SubParsersAction


class UsageError(ConfigurationError):
    """Bad command-line input the parser itself cannot catch (exit code 2)."""


class Secrets:
    """Every secret the CLI has seen (tokens, passwords, codes), scrubbed from what it prints.

    kycflow keeps secrets out of its messages already; this is the CLI's second line of defence,
    since it is the CLI that put them in memory.
    """

    MASK = "***"

    def __init__(self) -> None:
        self._values: set[str] = set()

    def add(self, value: str | SecretStr | None) -> None:
        """Remember a secret (short values are not worth scrubbing: they match everywhere)."""
        raw = value.get_secret_value() if isinstance(value, SecretStr) else value
        if raw and len(raw) >= 4:
            self._values.add(raw)

    def scrub(self, text: str) -> str:
        """``text`` with every known secret masked, longest first."""
        for value in sorted(self._values, key=len, reverse=True):
            text = text.replace(value, self.MASK)
        return text

    def clear(self) -> None:
        """Forget every secret (between in-process runs of ``main``)."""
        self._values.clear()


secrets = Secrets()


class _ScrubbingStream:
    """A text stream that masks known secrets before writing (for log output)."""

    def __init__(self, target: Callable[[], TextIO]) -> None:
        self._target = target

    def write(self, text: str) -> int:
        self._target().write(secrets.scrub(text))
        return len(text)

    def flush(self) -> None:
        self._target().flush()


def configure_cli_logging(verbose: bool) -> None:
    """kycflow's structlog output goes to stderr: warnings only, or everything with --verbose."""
    level = logging.DEBUG if verbose else logging.WARNING
    stream: Any = _ScrubbingStream(lambda: sys.stderr)
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="%H:%M:%S"),
            redact_processor,
            structlog.dev.ConsoleRenderer(colors=False),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(file=stream),
        cache_logger_on_first_use=False,
    )


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    """``--verbose`` on a subcommand too (SUPPRESS: it never resets the global flag)."""
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        default=argparse.SUPPRESS,
        help="show detail and tracebacks on errors, and kycflow's log",
    )


# -- auth ---------------------------------------------------------------------------------------


def add_auth_arguments(parser: argparse.ArgumentParser) -> None:
    """``--base-url`` and the ways to authenticate (token, or email + password [+ otp])."""
    group = parser.add_argument_group("server and authentication")
    group.add_argument(
        "--base-url",
        default=os.environ.get(ENV_BASE_URL),
        help=f"the API's base URL, e.g. https://host.name/api (env {ENV_BASE_URL})",
    )
    group.add_argument("--token", help=f"an access token (env {ENV_TOKEN})")
    group.add_argument("--email", help="sign in with this email instead of a token")
    group.add_argument(
        "--password",
        help=f"the sign-in password (env {ENV_PASSWORD}; prompted for on a terminal)",
    )
    group.add_argument("--otp", help="the second-factor code, if the server asks for one")
    group.add_argument(
        "--retries",
        type=_non_negative_int,
        default=None,
        help="retries of a failed request (default: the client's)",
    )


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError("must be >= 0")
    return value


def positive_int(text: str) -> int:
    """argparse type: an int >= 1."""
    value = _non_negative_int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be >= 1")
    return value


@dataclass(frozen=True, repr=False)
class AuthArgs:
    """How to authenticate, resolved from arguments and environment (secrets as SecretStr)."""

    base_url: str
    token: SecretStr | None = None
    email: str | None = None
    password: SecretStr | None = None
    otp: SecretStr | None = None
    retries: int | None = None
    prompt: bool = field(default=False)

    def __repr__(self) -> str:
        return f"AuthArgs(base_url={self.base_url!r}, email={self.email!r})"


def resolve_auth(args: argparse.Namespace, *, stdin: IO[str] | None = None) -> AuthArgs:
    """The base URL and credentials, from the flags, then the environment, then a prompt."""
    stdin = stdin or sys.stdin
    base_url = args.base_url
    if not base_url:
        raise UsageError(f"--base-url is required (or set {ENV_BASE_URL})")
    token = args.token
    email = args.email
    if token and email:
        raise UsageError("give either --token or --email/--password, not both")
    interactive = bool(getattr(stdin, "isatty", lambda: False)())
    if email:
        password = args.password or os.environ.get(ENV_PASSWORD)
        if not password and interactive:
            password = getpass.getpass(f"Password for {email}: ")
        if not password:
            raise UsageError(f"--email needs a password: --password, {ENV_PASSWORD} or a terminal")
        secrets.add(password)
        secrets.add(args.otp)
        return AuthArgs(
            base_url=base_url,
            email=email,
            password=SecretStr(password),
            otp=SecretStr(args.otp) if args.otp else None,
            retries=args.retries,
            prompt=interactive,
        )
    if args.password:
        secrets.add(args.password)
        raise UsageError("--password needs --email")
    token = token or os.environ.get(ENV_TOKEN)
    if not token:
        raise UsageError(f"authenticate with --token (or {ENV_TOKEN}) or --email/--password")
    secrets.add(token)
    return AuthArgs(base_url=base_url, token=SecretStr(token), retries=args.retries)


def make_client(auth: AuthArgs) -> Client:
    """The client for ``auth.base_url`` (its auth is added by ``authenticate``)."""
    if auth.retries is None:
        return Client(auth.base_url)
    return Client(auth.base_url, max_retries=auth.retries)


async def authenticate(client: Client, auth: AuthArgs) -> Client:
    """A view of ``client`` that sends the user's token, signing in first if asked to."""
    if auth.token is not None:
        return client.with_auth(BearerToken(auth.token))
    if auth.email is None or auth.password is None:
        raise UsageError("authenticate with --token or --email/--password")

    async def second_factor(kind: str) -> str:
        if auth.otp is not None:
            return auth.otp.get_secret_value()
        if auth.prompt:
            code = getpass.getpass(f"Second-factor code ({kind}): ")
            secrets.add(code)
            return code
        raise UsageError(f"the server asks for a second factor ({kind}): pass --otp CODE")

    session: Auth = await client.sign_in(auth.email, auth.password, second_factor=second_factor)
    tokens = getattr(session, "tokens", None)
    if tokens is not None:
        secrets.add(tokens.access_token.token)
        if tokens.refresh_token is not None:
            secrets.add(tokens.refresh_token.token)
    return client.with_auth(session)


# -- errors -------------------------------------------------------------------------------------


def exit_code_for(exc: BaseException) -> int:
    """0 done, 1 API/network/wizard error, 2 usage or bad local input, 3 missing documents."""
    if isinstance(exc, MissingDocumentError):
        return EXIT_MISSING_DOCUMENTS
    if isinstance(exc, APIError | WizardError):
        return EXIT_API
    if isinstance(exc, DocumentError | ConfigurationError | ValueError):
        return EXIT_USAGE
    if isinstance(exc, KeyboardInterrupt):
        return EXIT_INTERRUPTED
    return EXIT_API


def describe_error(exc: BaseException) -> str:
    """One line saying what went wrong (no secrets: kycflow's messages hold none)."""
    if isinstance(exc, MissingDocumentError):
        labels = [_type_label(t) for t in exc.requested] or ["(none listed)"]
        return (
            "the wizard needs documents that were not given: "
            + ", ".join(labels)
            + " (add files to the documents directory or use --map TYPE=FILE)"
        )
    if isinstance(exc, AuthenticationError):
        return f"{exc} (check the token or the sign-in credentials)"
    if isinstance(exc, KycflowError | ValueError | OSError):
        text = str(exc) or type(exc).__name__
        return text
    return f"unexpected {type(exc).__name__}: {exc}"


def _type_label(doc_type: Any) -> str:
    if isinstance(doc_type, DocumentType):
        return (
            f"{doc_type.description} (type {doc_type.id})"
            if doc_type.description
            else (f"type {doc_type.id}")
        )
    return str(doc_type)


def _detail_lines(exc: BaseException) -> list[str]:
    lines: list[str] = [f"error class: {type(exc).__module__}.{type(exc).__qualname__}"]
    if isinstance(exc, APIError) and exc.method:
        lines.append(f"call: {exc.method} {exc.path}")
    if isinstance(exc, APIStatusError):
        lines.append(f"status: {exc.status}; request id: {exc.request_id or '-'}")
        for detail in exc.details:
            lines.append(f"detail: {detail}")
        if exc.body_excerpt:
            lines.append(f"body: {exc.body_excerpt}")
    cause = getattr(exc, "cause", None)
    if isinstance(cause, BaseException):
        lines.append(f"cause: {type(cause).__name__}: {cause}")
    lines.extend(traceback.format_exception(exc))
    return lines


def report_error(exc: BaseException, *, verbose: bool, stream: TextIO | None = None) -> int:
    """Print the error (one line, or detail with ``verbose``) and return its exit code."""
    out = stream or sys.stderr
    code = exit_code_for(exc)
    if verbose:
        for line in _detail_lines(exc):
            out.write(secrets.scrub(line.rstrip("\n")) + "\n")
    out.write(secrets.scrub(f"kycflow: error: {describe_error(exc)}") + "\n")
    out.flush()
    return code


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


# -- documents ----------------------------------------------------------------------------------


def parse_map(items: Sequence[str] | None, root: Path) -> dict[int | str, list[str]] | None:
    """``--map KEY=FILE[,FILE...]`` as a DirectoryProvider mapping; every file must exist."""
    if not items:
        return None
    mapping: dict[int | str, list[str]] = {}
    for item in items:
        key, sep, value = item.partition("=")
        files = [f.strip() for f in value.split(",") if f.strip()]
        if not sep or not key.strip() or not files:
            raise UsageError(f"--map expects TYPE=FILE[,FILE...], got {item!r}")
        for name in files:
            if not (root / name).is_file():
                raise UsageError(f"--map {key.strip()}: no file {name!r} in {root}")
        mapping.setdefault(key.strip(), []).extend(files)
    return dict(mapping)


class DescribingProvider:
    """Wraps a provider to remember each type's description, for the progress display."""

    def __init__(self, inner: FileProvider) -> None:
        self.inner = inner
        self.descriptions: dict[int, str] = {}

    def __repr__(self) -> str:
        return f"DescribingProvider({self.inner!r})"

    async def documents_for(self, doc_type: DocumentType) -> Sequence[Document] | None:
        """Delegates to the wrapped provider."""
        self.descriptions[doc_type.id] = doc_type.description
        return await self.inner.documents_for(doc_type)

    def describe(self, type_id: int) -> str:
        """``"Passport (2)"``, or the bare id when its description is unknown."""
        description = self.descriptions.get(type_id)
        return f"{description} ({type_id})" if description else str(type_id)


def result_to_dict(result: WizardResult) -> dict[str, Any]:
    """A run's result as JSON data."""
    return {
        "done": result.done,
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


# -- rich output --------------------------------------------------------------------------------


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
