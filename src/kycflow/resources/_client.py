"""What the endpoint groups ask of the client (a structural protocol: no import of it)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from .._constants import (
    ALLOWED_CONTENT_TYPES,
    DEFAULT_UPLOAD_TOTAL_TIMEOUT,
    UPLOAD_CHUNK_BYTES,
    UPLOAD_FIELD,
    UPLOAD_PATH,
)
from .._http.context import Response
from .._http.options import CallOptions, RequestOptions, TimeoutArg
from .._http.replies import upload_path_from_payload
from .._http.retry import RetryPolicy
from .._http.seam import StreamBody

__all__ = ["ClientLike", "UploadConfig"]


@dataclass(frozen=True, slots=True)
class UploadConfig:
    """How ``files.upload`` talks to the server (NOTES.md's contract by default).

    ``extract(payload)`` returns the stored path from the decoded reply (None if absent).
    ``timeout`` is the default for uploads: None means no total cap (large files take long)
    while connecting and each socket read stay bounded.
    """

    path: str = UPLOAD_PATH
    field: str = UPLOAD_FIELD
    extract: Callable[[Any], str | None] = upload_path_from_payload
    chunk_size: int = UPLOAD_CHUNK_BYTES
    timeout: TimeoutArg = DEFAULT_UPLOAD_TOTAL_TIMEOUT
    allowed_types: Collection[str] = ALLOWED_CONTENT_TYPES


class ClientLike(Protocol):
    """The client as its endpoint groups see it (``kycflow.Client`` implements it)."""

    @property
    def upload_config(self) -> UploadConfig: ...

    @property
    def max_upload_bytes(self) -> int: ...

    def call_options(self, overrides: RequestOptions, *, upload: bool = False) -> CallOptions: ...

    def request(
        self,
        method: str,
        path: str,
        *,
        options: CallOptions,
        template: str | None = None,
        params: Sequence[tuple[str, str]] | None = None,
        json: Any = None,
        body: StreamBody | None = None,
        policy: RetryPolicy = RetryPolicy.DEFAULT,
    ) -> Awaitable[Response]: ...
