"""Document upload (``POST /v2/my/files`` by default), streamed from its source."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import os
import re
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any, Unpack

import aiohttp
from aiohttp.abc import AbstractStreamWriter
from aiohttp.payload import AsyncIterablePayload, BytesPayload, Payload

from .._http.transport import BodyFactory
from .._logging import get_logger
from ..documents import Document
from ..errors import APIError, DocumentError, ProtocolError

if TYPE_CHECKING:
    from ..client import Client, RequestOptions

__all__ = ["Files", "as_document", "upload_name"]

_log = get_logger()
_OCTET_STREAM = "application/octet-stream"
# In-memory documents up to this size are sent as one prepared buffer (aiohttp warns about
# single bytes bodies over 1 MiB; larger ones are written in chunks).
_INLINE_MAX_BYTES = 512 * 1024


def as_document(
    source: Document | str | os.PathLike[str] | bytes | bytearray,
    *,
    name: str | None = None,
    content_type: str | None = None,
) -> Document:
    """A ``Document`` from a Document, a path, or bytes plus a name."""
    if isinstance(source, Document):
        return source
    if isinstance(source, bytes | bytearray):
        if not name:
            raise DocumentError("uploading bytes needs a file name (name=...)")
        return Document.from_bytes(bytes(source), name, content_type=content_type)
    if isinstance(source, str | os.PathLike):
        return Document.from_path(source, name=name, content_type=content_type)
    raise DocumentError(f"cannot upload a {type(source).__name__}: pass a Document, path or bytes")


async def _capped(
    stream: AsyncIterator[bytes], limit: int, tripped: list[str], name: str
) -> AsyncIterator[bytes]:
    # A stream of unknown (or understated) size passed ``validate``: stop it at the limit, so
    # at most ``limit`` bytes leave and the server stores nothing.
    sent = 0
    async for chunk in stream:
        sent += len(chunk)
        if sent > limit:
            tripped.append(f"document {name} streamed more than the limit of {limit} bytes")
            raise DocumentError("the document is over the upload size limit")
        yield chunk


class _SizedPayload(Payload):
    """A validated document of known size (in memory, or a file whose size was just taken) as
    one multipart part. Its size lets aiohttp send a ``Content-Length`` instead of chunked
    framing. A file that changes size while it is sent fails the upload: declared length and
    body must agree, or the server would misread the connection."""

    _autoclose = True  # the stream, if any, is closed by ``_SizedBody``

    def __init__(
        self, document: Document, length: int, chunk_size: int, tripped: list[str]
    ) -> None:
        super().__init__(document, content_type=document.content_type or _OCTET_STREAM)
        self._document = document
        self._length = length
        self._chunk_size = chunk_size
        self._tripped = tripped
        self.stream: AsyncIterator[bytes] | None = None

    @property
    def size(self) -> int:
        return self._length

    def decode(self, encoding: str = "utf-8", errors: str = "strict") -> str:
        raise TypeError("a document part is binary")

    async def write_with_length(
        self, writer: AbstractStreamWriter, content_length: int | None
    ) -> None:
        await self.write(writer)

    async def write(self, writer: AbstractStreamWriter) -> None:
        data = self._document.data
        if data is not None:
            step = self._chunk_size
            if len(data) <= step:
                await writer.write(data)
                return
            view = memoryview(data)
            for start in range(0, len(view), step):
                await writer.write(view[start : start + step])
            return
        self.stream = stream = self._document.open_stream(self._chunk_size)
        sent = 0
        try:
            async for chunk in stream:
                sent += len(chunk)
                if sent > self._length:
                    break
                await writer.write(chunk)
        except DocumentError as exc:
            # The file could not be opened again as the one validated (a confined provider's
            # file swapped meanwhile): aiohttp reports a broken connection, the caller this.
            self._tripped.append(str(exc))
            raise
        if sent != self._length:
            self._tripped.append(
                f"document {self._document.name} changed size while it was being uploaded"
            )
            raise DocumentError("the document changed size while it was being uploaded")


class _SizedBody:
    """The request body of a sized document: a plain async context manager (no generator),
    since most uploads are small and their per-call overhead matters."""

    __slots__ = ("_payload", "_writer")

    def __init__(self, document: Document, field: str, chunk_size: int, tripped: list[str]):
        size = document.size
        data = document.data
        length = len(data) if data is not None else size
        assert length is not None
        self._payload = _SizedPayload(document, length, chunk_size, tripped)
        self._payload.set_content_disposition("form-data", name=field, filename=document.name)
        self._writer = aiohttp.MultipartWriter("form-data")
        self._writer.append_payload(self._payload)

    async def __aenter__(self) -> aiohttp.MultipartWriter:
        return self._writer

    async def __aexit__(self, *exc_info: object) -> None:
        # Also on cancellation: the file handle behind the stream must not outlive the call.
        stream = self._payload.stream
        if stream is not None:
            await _close_stream(stream)


@contextlib.asynccontextmanager
async def _streamed_body(
    document: Document, field: str, chunk_size: int, limit: int, tripped: list[str]
) -> AsyncIterator[Any]:
    """A document of unknown size: chunked, capped at ``limit``."""
    stream = document.open_stream(chunk_size)
    body = _capped(stream, limit, tripped, document.name)
    try:
        writer = aiohttp.MultipartWriter("form-data")
        part = writer.append_payload(
            AsyncIterablePayload(body, content_type=document.content_type or _OCTET_STREAM)
        )
        part.set_content_disposition("form-data", name=field, filename=document.name)
        yield writer
    finally:
        # Also on cancellation: the file handle behind the stream must not outlive the call.
        await _close_stream(body)
        await _close_stream(stream)


@functools.lru_cache(maxsize=256)
def _part_head(field: str, filename: str, content_type: str) -> bytes:
    # The part's header block exactly as aiohttp's multipart writer renders it (its quoting of
    # the file name included), built once per distinct name.
    part = BytesPayload(b"", content_type=content_type)
    part.set_content_disposition("form-data", name=field, filename=filename)
    lines = "".join(f"{key}: {value}\r\n" for key, value in part.headers.items())
    return (lines + "\r\n").encode("utf-8")


class _InlinePayload(Payload):
    """A small in-memory document as one ready-made multipart body, joined only when it is
    written: a request still waiting for a connection holds the document's (shared) bytes,
    not a copy of them."""

    _autoclose = True  # nothing to close

    def __init__(self, head: bytes, data: bytes, tail: bytes, content_type: str) -> None:
        super().__init__(data, content_type=content_type)
        self._head = head
        self._tail = tail
        self._size = len(head) + len(data) + len(tail)

    def decode(self, encoding: str = "utf-8", errors: str = "strict") -> str:
        raise TypeError("a document body is binary")

    async def as_bytes(self, encoding: str = "utf-8", errors: str = "strict") -> bytes:
        return b"".join((self._head, self._value, self._tail))

    async def write(self, writer: AbstractStreamWriter) -> None:
        await writer.write(b"".join((self._head, self._value, self._tail)))

    async def write_with_length(
        self, writer: AbstractStreamWriter, content_length: int | None
    ) -> None:
        body = b"".join((self._head, self._value, self._tail))
        await writer.write(body if content_length is None else body[:content_length])


class _InlineBody:
    """A small in-memory document as one multipart body: one buffer, one write, and none of
    the multipart writer's per-part objects."""

    __slots__ = ("_payload",)

    def __init__(self, document: Document, data: bytes, field: str) -> None:
        boundary = os.urandom(16).hex()
        marker = boundary.encode("ascii")
        head = _part_head(field, document.name, document.content_type or _OCTET_STREAM)
        self._payload = _InlinePayload(
            b"".join((b"--", marker, b"\r\n", head)),
            data,
            b"".join((b"\r\n--", marker, b"--\r\n")),
            f"multipart/form-data; boundary={boundary}",
        )

    async def __aenter__(self) -> Payload:
        return self._payload

    async def __aexit__(self, *exc_info: object) -> None:
        return None


_SURROGATES = re.compile("[\ud800-\udfff]")


def upload_name(name: str) -> str:
    """``name`` as it can be sent: a file name that is not valid UTF-8 (bytes the file system
    handed over as surrogate escapes, or lone surrogates) gets U+FFFD for each bad part."""
    if name.isascii():
        return name
    try:
        name.encode("utf-8")
        return name
    except UnicodeEncodeError:
        pass
    try:
        # The bytes on disk, decoded with replacement: one U+FFFD per invalid byte.
        return name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    except UnicodeEncodeError:
        return _SURROGATES.sub("\ufffd", name)


def _body_factory(
    document: Document, field: str, chunk_size: int, limit: int, tripped: list[str]
) -> BodyFactory:
    data = document.data
    if data is not None and len(data) <= _INLINE_MAX_BYTES:
        return lambda: _InlineBody(document, data, field)
    # A size is trusted only where kycflow took it itself: the bytes in memory, or a file's
    # size from ``validate``. A caller's stream may declare a wrong size: it stays chunked.
    if data is not None or (document.path is not None and document.size is not None):
        return lambda: _SizedBody(document, field, chunk_size, tripped)
    return lambda: _streamed_body(document, field, chunk_size, limit, tripped)


_CLOSE_ATTEMPTS = 400
_CLOSE_POLL = 0.005


async def _close_stream(stream: AsyncIterator[bytes]) -> None:
    aclose = getattr(stream, "aclose", None)
    if aclose is None:
        return
    for _ in range(_CLOSE_ATTEMPTS):
        try:
            await aclose()
            return
        except RuntimeError:
            # aiohttp writes the body from its own task, which may still be inside the
            # generator (awaiting a disk read) while it is being torn down: let it step out.
            await asyncio.sleep(_CLOSE_POLL)
    _log.warning("upload.stream_not_closed", name=getattr(stream, "__name__", None))


class Files:
    """Upload documents; the returned stored path goes into ``wizard.submit``."""

    def __init__(self, client: Client) -> None:
        self._client = client

    async def validate(
        self,
        document: Document | str | os.PathLike[str] | bytes | bytearray,
        *,
        name: str | None = None,
        content_type: str | None = None,
    ) -> Document:
        """Check a document against this client's limits (``max_upload_bytes``, the upload
        config's ``allowed_types``), as ``upload`` will; raises ``DocumentError``."""
        client = self._client
        doc = as_document(document, name=name, content_type=content_type)
        return await doc.validate(
            max_bytes=client.max_upload_bytes, allowed_types=client.upload_config.allowed_types
        )

    async def upload(
        self,
        document: Document | str | os.PathLike[str] | bytes | bytearray,
        *,
        name: str | None = None,
        content_type: str | None = None,
        **options: Unpack[RequestOptions],
    ) -> str:
        """Validate then stream ``document``; return the server's stored path.

        A bad document raises ``DocumentError`` before any request. A POST: retried only if it
        provably never reached the server, or on 429/503.
        """
        client = self._client
        config = client.upload_config
        doc = await self.validate(document, name=name, content_type=content_type)
        del document  # maybe raw bytes: not for a traceback that renders locals
        safe_name = upload_name(doc.name)
        if safe_name != doc.name:
            doc = dataclasses.replace(doc, name=safe_name)
        call = client.call_options(options, upload=True)
        limit = client.max_upload_bytes
        tripped: list[str] = []
        try:
            _, payload = await client.request(
                "POST",
                config.path,
                options=call,
                body=_body_factory(doc, config.field, config.chunk_size, limit, tripped),
            )
        except APIError:
            if tripped:
                raise DocumentError(tripped[0], name=doc.name) from None
            raise
        try:
            stored = config.extract(payload)
        except Exception as exc:  # a user-supplied extractor: no KeyError may escape
            raise ProtocolError(
                f"the upload reply could not be read ({type(exc).__name__})",
                method="POST",
                path=config.path,
            ) from None
        if not isinstance(stored, str) or not stored:
            raise ProtocolError(
                "the upload reply carries no stored path", method="POST", path=config.path
            )
        return stored
