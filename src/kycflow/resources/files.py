"""Document upload (``POST /v2/my/files`` by default), streamed from its source."""

from __future__ import annotations

import dataclasses
import os
import re
from typing import Unpack

from .._http.multipart import MultipartUpload
from .._http.options import RequestOptions
from ..documents import Document
from ..errors import APIError, DocumentError, ProtocolError
from ._client import ClientLike

__all__ = ["Files", "as_document", "upload_name"]


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


class Files:
    """Upload documents; the returned stored path goes into ``wizard.submit``."""

    __slots__ = ("_client",)

    def __init__(self, client: ClientLike) -> None:
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
        body = MultipartUpload(
            doc, config.field, chunk_size=config.chunk_size, limit=client.max_upload_bytes
        )
        try:
            payload = (await client.request("POST", config.path, options=call, body=body)).data
        except APIError:
            if body.failure is not None:
                raise DocumentError(body.failure, name=doc.name) from None
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
