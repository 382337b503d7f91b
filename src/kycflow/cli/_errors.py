"""Exit codes, the CLI's usage error, and how an error is reported on stderr."""

from __future__ import annotations

import signal
import sys
import traceback
from typing import Any, TextIO

from ..errors import (
    APIError,
    APIStatusError,
    AuthenticationError,
    ConfigurationError,
    DocumentError,
    KycflowError,
    MissingDocumentError,
    OutcomeUnknownError,
    RateLimitError,
    UnsupportedWizardError,
    WizardError,
)
from ..models import DocumentType
from ._secrets import secrets
from ._signals import interrupting_signal

__all__ = [
    "EXIT_API",
    "EXIT_INTERRUPTED",
    "EXIT_MISSING_DOCUMENTS",
    "EXIT_NOT_COMPLETED",
    "EXIT_OK",
    "EXIT_TERMINATED",
    "EXIT_UNSUPPORTED_WIZARD",
    "EXIT_USAGE",
    "Interrupted",
    "UsageError",
    "describe_error",
    "exit_code_for",
    "report_error",
    "retry_after_of",
]

EXIT_OK = 0
EXIT_API = 1
EXIT_USAGE = 2
EXIT_MISSING_DOCUMENTS = 3
EXIT_NOT_COMPLETED = 4
EXIT_UNSUPPORTED_WIZARD = 5
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143


class Interrupted(Exception):
    """Stands for a ``KeyboardInterrupt`` (Ctrl-C, or SIGTERM) in messages and JSON."""

    def __init__(self) -> None:
        self.signal = interrupting_signal()
        super().__init__(
            "interrupted (Ctrl-C)" if self.signal == signal.SIGINT else "terminated (SIGTERM)"
        )

    @property
    def exit_code(self) -> int:
        """130 after SIGINT, 143 after SIGTERM."""
        return EXIT_INTERRUPTED if self.signal == signal.SIGINT else EXIT_TERMINATED


class UsageError(ConfigurationError):
    """Bad command-line input the parser itself cannot catch (exit code 2)."""


def exit_code_for(exc: BaseException) -> int:
    """0 done, 1 API/network/wizard error, 2 usage or bad local input, 3 missing documents,
    4 the wizard ended without success, 5 a wizard the API cannot drive (a KYC SDK's),
    6 watch: the level was not granted in time, 130 interrupted (Ctrl-C), 143 terminated
    (SIGTERM)."""
    if isinstance(exc, MissingDocumentError):
        return EXIT_MISSING_DOCUMENTS
    if isinstance(exc, UnsupportedWizardError):
        return EXIT_UNSUPPORTED_WIZARD
    if isinstance(exc, APIError | WizardError):
        return EXIT_API
    if isinstance(exc, DocumentError | ConfigurationError | ValueError):
        return EXIT_USAGE
    if isinstance(exc, KeyboardInterrupt):
        return Interrupted().exit_code
    if isinstance(exc, Interrupted):
        return exc.exit_code
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
    if isinstance(exc, KeyboardInterrupt):
        return str(Interrupted())
    if isinstance(exc, Interrupted):
        return str(exc)
    if isinstance(exc, AuthenticationError):
        return f"{exc} (check the token or the sign-in credentials)"
    if isinstance(exc, UnsupportedWizardError):
        return f"{exc}; complete this level in the vendor's own app or web flow"
    retry_after = retry_after_of(exc)
    if retry_after is not None:
        return f"{exc} (the server asks to retry after {retry_after:g} s)"
    if isinstance(exc, KycflowError | ValueError | OSError):
        text = str(exc) or type(exc).__name__
        return text
    return f"unexpected {type(exc).__name__}: {exc}"


def retry_after_of(exc: BaseException) -> float | None:
    """The server's Retry-After of a rate-limit error (or of one behind an unknown outcome)."""
    if isinstance(exc, OutcomeUnknownError):
        exc = exc.cause
    return exc.retry_after if isinstance(exc, RateLimitError) else None


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
