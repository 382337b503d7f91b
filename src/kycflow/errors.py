"""The one exception tree of kycflow. Nothing here knows about the transport."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .models import DocumentType

__all__ = [
    "APIConnectError",
    "APIConnectionError",
    "APIError",
    "APIStatusError",
    "APITLSError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "CheckpointError",
    "ConfigurationError",
    "ConflictError",
    "CursorStoreError",
    "DocumentError",
    "KycflowError",
    "LeaseLostError",
    "LevelTimeoutError",
    "MissingDocumentError",
    "NotFoundError",
    "OutcomeUnknownError",
    "PermissionDeniedError",
    "ProtocolError",
    "RateLimitError",
    "RedirectRefusedError",
    "RunInProgressError",
    "ServerError",
    "StepRefusedError",
    "UnknownLevelError",
    "UnsupportedWizardError",
    "WizardDeadlineError",
    "WizardError",
    "WizardStalledError",
    "WizardStepLimitError",
    "detail_text",
    "status_error_class",
]


class KycflowError(Exception):
    """Base of every error kycflow raises."""


class ConfigurationError(KycflowError, ValueError):
    """The client was configured in a way it refuses (for example plain http to a remote host)."""


class APIError(KycflowError):
    """A call to the API failed. ``method`` and ``path`` name the call (a path template)."""

    def __init__(self, message: str, *, method: str | None = None, path: str | None = None):
        super().__init__(message)
        self.message = message
        self.method = method
        self.path = path


class APIConnectionError(APIError):
    """The server could not be reached, or the connection broke before a reply arrived."""


class APIConnectError(APIConnectionError):
    """The connection could not be opened (refused, unresolvable): the request never left."""


class APITLSError(APIConnectionError):
    """The TLS handshake with the server failed (a bad certificate, say): retrying cannot help."""


class APITimeoutError(APIConnectionError):
    """The call timed out. ``connecting``: while opening the connection (never sent)."""

    def __init__(
        self,
        message: str,
        *,
        connecting: bool = False,
        method: str | None = None,
        path: str | None = None,
    ):
        super().__init__(message, method=method, path=path)
        self.connecting = connecting


class OutcomeUnknownError(APIError):
    """A non-idempotent request (POST) failed after it may have reached the server.

    It was not retried, since a retry could apply it twice. ``cause`` is the underlying error.
    Reconcile by reading the server's state (the WizardRunner does this for wizard steps).
    """

    def __init__(
        self,
        message: str,
        *,
        cause: APIError,
        method: str | None = None,
        path: str | None = None,
    ):
        super().__init__(message, method=method, path=path)
        self.cause = cause


class ProtocolError(APIError):
    """The server's reply is not valid JSON, is too large, or does not fit the expected model.

    ``transient``: the reply was cut short or garbled on the way (invalid JSON), so the same
    idempotent call may well succeed again; False for a reply that is whole but wrong (an error
    object in a 2xx, a missing field).
    """

    def __init__(
        self,
        message: str,
        *,
        excerpt: str = "",
        status: int | None = None,
        method: str | None = None,
        path: str | None = None,
        transient: bool = False,
    ):
        super().__init__(message, method=method, path=path)
        self.excerpt = excerpt
        self.status = status
        self.transient = transient


class RedirectRefusedError(ProtocolError):
    """The server redirected a request whose body carries credentials or documents (sign-in,
    second factor, refresh, an upload, a submit) to another origin: it is never re-sent there.
    ``origin`` and ``target_origin`` name both ends (``scheme://host:port``)."""

    def __init__(
        self,
        message: str,
        *,
        origin: str,
        target_origin: str,
        status: int | None = None,
        method: str | None = None,
        path: str | None = None,
    ):
        super().__init__(message, status=status, method=method, path=path)
        self.origin = origin
        self.target_origin = target_origin


class APIStatusError(APIError):
    """The server answered with an error status (4xx or 5xx)."""

    def __init__(
        self,
        message: str,
        *,
        status: int,
        request_id: str | None = None,
        details: Sequence[Mapping[str, Any]] = (),
        body_excerpt: str = "",
        method: str | None = None,
        path: str | None = None,
    ):
        super().__init__(message, method=method, path=path)
        self.status = status
        self.request_id = request_id
        self.details = list(details)
        self.body_excerpt = body_excerpt

    def __str__(self) -> str:
        where = f"{self.method} {self.path}: " if self.method and self.path else ""
        rid = f" (request id {self.request_id})" if self.request_id else ""
        issues = [i for i in (detail_text(d) for d in self.details[:5]) if i and i != self.message]
        said = f": {'; '.join(issues)}" if issues else ""
        return f"{where}{self.status} {self.message}{said}{rid}"


_DETAIL_TEXT_KEYS = ("issue", "message", "detail", "title", "reason", "description", "error")
_DETAIL_FIELD_KEYS = ("field", "propertyPath", "property", "pointer", "param", "name")


def detail_text(detail: Mapping[str, Any]) -> str:
    """One error detail as short text: its issue/message, prefixed by the field it names."""
    text = next(
        (str(v) for k in _DETAIL_TEXT_KEYS if isinstance(v := detail.get(k), str | int) and v),
        "",
    )
    where = next((v for k in _DETAIL_FIELD_KEYS if isinstance(v := detail.get(k), str) and v), None)
    if text and where and where not in text:
        return f"{where}: {text}"
    return text or (where or "")


class BadRequestError(APIStatusError):
    """400 or 422: the request was malformed or failed validation."""


class AuthenticationError(APIStatusError):
    """401: missing, wrong or expired credentials (after any refresh was tried)."""


class PermissionDeniedError(APIStatusError):
    """403."""


class NotFoundError(APIStatusError):
    """404."""


class ConflictError(APIStatusError):
    """409."""


class RateLimitError(APIStatusError):
    """429. ``retry_after`` is the server's requested delay in seconds, when it sent one."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any):
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class ServerError(APIStatusError):
    """5xx."""


_STATUS_CLASSES: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    422: BadRequestError,
    429: RateLimitError,
}


def status_error_class(status: int) -> type[APIStatusError]:
    """The most specific error class for an HTTP status."""
    if status >= 500:
        return ServerError
    return _STATUS_CLASSES.get(status, APIStatusError)


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
