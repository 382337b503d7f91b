"""The base of the tree and the API's errors: connection, protocol and status errors."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = [
    "APIConnectError",
    "APIConnectionError",
    "APIError",
    "APIStatusError",
    "APITLSError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "ConfigurationError",
    "ConflictError",
    "KycflowError",
    "NotFoundError",
    "OutcomeUnknownError",
    "PermissionDeniedError",
    "ProtocolError",
    "RateLimitError",
    "RedirectRefusedError",
    "ServerError",
    "detail_text",
    "status_error_class",
]


class KycflowError(Exception):
    """Base of every error kycflow raises."""

    def __reduce__(self) -> tuple[Any, ...]:
        # Subclasses take keyword-only arguments, which Exception's default pickling (the
        # positional ``args`` only) cannot replay: arq pickles a failed job's exception.
        return (_rebuild, (type(self), self.args, self.__dict__))


def _rebuild(cls: type[KycflowError], args: tuple[Any, ...], state: dict[str, Any]) -> Any:
    error = cls.__new__(cls)
    Exception.__init__(error, *args)
    error.__dict__.update(state)
    return error


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
        # A server's details can be any length: the message stays a line, not a dump.
        said = _cut(f": {'; '.join(_cut(i, _ISSUE_CHARS) for i in issues)}", _SAID_CHARS)
        return f"{where}{self.status} {self.message}{said if issues else ''}{rid}"


_ISSUE_CHARS = 160
_SAID_CHARS = 400


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


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
