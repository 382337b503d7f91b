"""One document as a ``multipart/form-data`` request body, streamed from its source.

The part's framing is rendered here, once per body (its header block as aiohttp's multipart
writer renders it, cached per name); the document's bytes are never joined with it except for a
small in-memory document, and then only when written: a request still waiting for a connection
holds the document's (shared) bytes, not a copy of them.
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Protocol

from aiohttp.payload import BytesPayload

from ..errors import DocumentError
from .seam import StreamBody

__all__ = ["MultipartUpload", "UploadPart"]

_OCTET_STREAM = "application/octet-stream"
_FORM_DATA = "multipart/form-data; boundary="
# In-memory documents up to this size are written as one buffer (aiohttp warns about single
# bytes bodies over 1 MiB; larger ones are written in chunks).
_INLINE_MAX_BYTES = 512 * 1024


class UploadPart(Protocol):
    """What is uploaded (a validated ``kycflow.Document`` fits): its bytes, or a stream."""

    @property
    def name(self) -> str: ...

    @property
    def content_type(self) -> str | None: ...

    @property
    def data(self) -> bytes | None: ...

    @property
    def size(self) -> int | None: ...

    @property
    def path(self) -> object | None: ...

    def open_stream(self, chunk_size: int) -> AsyncIterator[bytes]: ...


@functools.lru_cache(maxsize=256)
def _part_head(field: str, filename: str, content_type: str) -> bytes:
    # The part's header block exactly as aiohttp's multipart writer renders it (its quoting of
    # the file name included), built once per distinct name.
    part = BytesPayload(b"", content_type=content_type)
    part.set_content_disposition("form-data", name=field, filename=filename)
    lines = "".join(f"{key}: {value}\r\n" for key, value in part.headers.items())
    return (lines + "\r\n").encode("utf-8")


class MultipartUpload(StreamBody):
    """``part`` as the one file field ``field`` of a form. Of known length (``Content-Length``)
    when the part's size is known, else chunked and capped at ``limit`` bytes. A file that
    changes size while it is sent fails the upload: declared length and body must agree.
    ``failure`` says what the document did wrong, when the upload failed because of it."""

    __slots__ = (
        "_chunk",
        "_form",
        "_head",
        "_length",
        "_limit",
        "_part",
        "_size",
        "content_type",
        "failure",
    )

    def __init__(self, part: UploadPart, field: str, *, chunk_size: int, limit: int) -> None:
        boundary = os.urandom(16).hex()
        self.content_type = self._form = f"{_FORM_DATA}{boundary}"
        # The part's header block is shared per name; the framing around it is made only when
        # the body is written, not held by each of thousands of uploads waiting to be sent.
        self._head = _part_head(field, part.name, part.content_type or _OCTET_STREAM)
        self._part = part
        self._chunk = chunk_size
        self._limit = limit
        data = part.data
        # A size is trusted only where kycflow took it itself: the bytes in memory, or a file's
        # size from ``validate``. A caller's stream may declare a wrong size: it stays chunked.
        if data is not None:
            self._size: int | None = len(data)
        else:
            self._size = part.size if part.path is not None else None
        # "--" boundary CRLF head ... CRLF "--" boundary "--" CRLF
        framing = 2 * len(boundary) + len(self._head) + 12
        self._length = None if self._size is None else framing + self._size
        self.failure: str | None = None

    @property
    def length(self) -> int | None:
        return self._length

    def _framing(self) -> tuple[bytes, bytes]:
        """The bytes before the document's and after them."""
        marker = self._form[len(_FORM_DATA) :].encode("ascii")
        return b"".join((b"--", marker, b"\r\n", self._head)), b"".join(
            (b"\r\n--", marker, b"--\r\n")
        )

    def whole(self) -> bytes | None:
        data = self._part.data
        if data is not None and len(data) <= _INLINE_MAX_BYTES:
            head, tail = self._framing()
            return b"".join((head, data, tail))
        return None

    async def chunks(self) -> AsyncIterator[bytes]:
        whole = self.whole()
        if whole is not None:
            yield whole
            return
        head, tail = self._framing()
        yield head
        data = self._part.data
        if data is not None:
            view, step = memoryview(data), self._chunk
            for start in range(0, len(view), step):
                yield bytes(view[start : start + step])
        else:
            # Closed with this iteration (same task): its ``finally`` closes the source.
            async with contextlib.aclosing(self._streamed()) as streamed:
                async for chunk in streamed:
                    yield chunk
        yield tail

    async def _streamed(self) -> AsyncGenerator[bytes, None]:
        part, size = self._part, self._size
        limit = self._limit if size is None else size
        stream = part.open_stream(self._chunk)
        sent = 0
        try:
            async for chunk in stream:
                sent += len(chunk)
                if sent > limit:
                    break
                yield chunk
        except DocumentError as exc:
            # The file could not be opened again as the one validated (a confined provider's
            # file swapped meanwhile): aiohttp reports a broken connection, the caller this.
            self._trip(str(exc))
            raise
        finally:
            # In the task iterating it (the one writing the body), so never while it runs.
            aclose = getattr(stream, "aclose", None)
            if aclose is not None:
                await aclose()
        if size is None and sent > limit:
            self._trip(f"document {part.name} streamed more than the limit of {limit} bytes")
            raise DocumentError("the document is over the upload size limit")
        if size is not None and sent != size:
            self._trip(f"document {part.name} changed size while it was being uploaded")
            raise DocumentError("the document changed size while it was being uploaded")

    def _trip(self, problem: str) -> None:
        if self.failure is None:
            self.failure = problem
