"""Document upload (``POST /v2/my/files`` by default), streamed from its source."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any, Unpack

import aiohttp
from aiohttp.payload import AsyncIterablePayload

from .._logging import get_logger
from ..documents import Document
from ..errors import APIError, DocumentError, ProtocolError

if TYPE_CHECKING:
    from ..client import Client, RequestOptions

__all__ = ["Files", "as_document"]

_log = get_logger()


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
    stream: AsyncIterator[bytes], limit: int, tripped: list[bool]
) -> AsyncIterator[bytes]:
    # A stream of unknown (or understated) size passed ``validate``: stop it at the limit, so
    # at most ``limit`` bytes leave and the server stores nothing.
    sent = 0
    async for chunk in stream:
        sent += len(chunk)
        if sent > limit:
            tripped.append(True)
            raise DocumentError("the document is over the upload size limit")
        yield chunk


@contextlib.asynccontextmanager
async def _multipart(
    document: Document, field: str, chunk_size: int, limit: int, tripped: list[bool]
) -> AsyncIterator[Any]:
    stream = document.open_stream(chunk_size)
    body = _capped(stream, limit, tripped)
    try:
        writer = aiohttp.MultipartWriter("form-data")
        part = writer.append_payload(
            AsyncIterablePayload(
                body, content_type=document.content_type or "application/octet-stream"
            )
        )
        part.set_content_disposition("form-data", name=field, filename=document.name)
        yield writer
    finally:
        # Also on cancellation: the file handle behind the stream must not outlive the call.
        await _close_stream(body)
        await _close_stream(stream)


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
        doc = as_document(document, name=name, content_type=content_type)
        doc = await doc.validate(
            max_bytes=client.max_upload_bytes, allowed_types=config.allowed_types
        )
        call = client.call_options(options, upload=True)
        limit = client.max_upload_bytes
        tripped: list[bool] = []
        try:
            _, payload = await client.request(
                "POST",
                config.path,
                options=call,
                body=lambda: _multipart(doc, config.field, config.chunk_size, limit, tripped),
            )
        except APIError:
            if tripped:
                raise DocumentError(
                    f"document {doc.name} streamed more than the limit of {limit} bytes",
                    name=doc.name,
                ) from None
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
