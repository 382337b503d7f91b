"""``Document``: a name, a content type, a size and a re-openable byte stream."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Collection
from dataclasses import dataclass, field
from pathlib import Path

from .._constants import ALLOWED_CONTENT_TYPES, MAX_UPLOAD_BYTES, UPLOAD_CHUNK_BYTES
from ..errors import DocumentError
from .sniffing import (
    HEIF_FAMILY,
    SNIFF_BYTES,
    agreeing_type,
    content_type_from_name,
    sniff_content_type,
)
from .streams import StreamFactory, bytes_chunks, file_chunks

__all__ = ["Document"]


@dataclass(frozen=True, repr=False)
class Document:
    """A file to upload. Its bytes are read only when streamed, and never appear in its repr.

    Build one with ``from_path``, ``from_bytes`` or ``from_stream``. ``open_stream(chunk_size)``
    returns a fresh async iterator over the content each time it is called, so an upload can be
    retried.
    """

    name: str
    content_type: str | None
    size: int | None
    _factory: StreamFactory = field(compare=False)
    path: Path | None = None
    _data: bytes | None = field(default=None, compare=False)
    """The content of an in-memory document (``from_bytes``): sent as one sized body."""
    _sniffed: bool = field(default=False, compare=False)
    """Set by ``validate``: the content was read and matches ``content_type``."""
    _pinned: bool = field(default=False, compare=False)
    """The content comes from a file opened once (``DirectoryProvider``); ``path`` only says
    where it was and is never opened or stat'ed again."""

    def __repr__(self) -> str:
        return f"Document(name={self.name!r}, content_type={self.content_type!r}, size={self.size})"

    @classmethod
    def from_path(
        cls,
        path: str | os.PathLike[str],
        *,
        name: str | None = None,
        content_type: str | None = None,
    ) -> Document:
        """A document streamed from a local file. Raises ``DocumentError`` if it is not a file."""
        file_path = Path(path)
        try:
            stat = file_path.stat()
        except (OSError, ValueError) as exc:  # ValueError: a NUL byte or unencodable name
            raise DocumentError(
                f"document file not found: {file_path.name}", name=file_path.name
            ) from exc
        if not file_path.is_file():
            raise DocumentError(f"not a regular file: {file_path.name}", name=file_path.name)
        return cls(
            name=name or file_path.name,
            content_type=content_type or content_type_from_name(name or file_path.name),
            size=stat.st_size,
            _factory=lambda chunk_size: file_chunks(file_path, chunk_size),
            path=file_path,
        )

    @classmethod
    def _pinned_file(
        cls,
        name: str,
        content_type: str | None,
        path: Path,
        *,
        data: bytes | None = None,
        factory: StreamFactory | None = None,
        size: int | None = None,
    ) -> Document:
        """A file a provider opened (confined): its bytes (a small file), or a stream whose
        ``factory`` opens it again confined and checks it is the same file. ``path`` is never
        opened or stat'ed by name."""
        if data is not None:
            payload = data
            # Sniffed here, once: a provider that hands the same document to many runs spares
            # each run's ``validate`` a copy. A mismatch is left for ``validate`` to report.
            sniffed = agreeing_type(name, content_type, payload[:SNIFF_BYTES])
            return cls(
                name=name,
                content_type=sniffed or content_type,
                size=len(payload),
                _factory=lambda chunk_size: bytes_chunks(payload, chunk_size),
                path=path,
                _data=payload,
                _sniffed=sniffed is not None,
                _pinned=True,
            )
        assert factory is not None
        return cls(
            name=name,
            content_type=content_type,
            size=size,
            _factory=factory,
            path=path,
            _pinned=True,
        )

    @classmethod
    def from_bytes(cls, data: bytes, name: str, *, content_type: str | None = None) -> Document:
        """A document held in memory."""
        payload = bytes(data)
        return cls(
            name=name,
            # The name's extension is the claim that ``validate`` checks the bytes against.
            content_type=content_type
            or content_type_from_name(name)
            or sniff_content_type(payload[:SNIFF_BYTES]),
            size=len(payload),
            _factory=lambda chunk_size: bytes_chunks(payload, chunk_size),
            _data=payload,
        )

    @classmethod
    def from_stream(
        cls,
        factory: StreamFactory,
        name: str,
        *,
        content_type: str | None = None,
        size: int | None = None,
    ) -> Document:
        """A document from any async byte source. ``factory(chunk_size)`` must return a fresh
        async iterator each call (an upload retry opens the stream again)."""
        return cls(
            name=name,
            content_type=content_type or content_type_from_name(name),
            size=size,
            _factory=factory,
        )

    @property
    def data(self) -> bytes | None:
        """The bytes of an in-memory document (``from_bytes``), else None."""
        return self._data

    @property
    def validated(self) -> bool:
        """Whether this is what ``validate`` returned (its content was checked)."""
        return self._sniffed

    def open_stream(self, chunk_size: int = UPLOAD_CHUNK_BYTES) -> AsyncIterator[bytes]:
        """A fresh async iterator over the bytes. ``aclose`` it if you stop early."""
        return self._factory(chunk_size)

    async def read_head(self, n: int = SNIFF_BYTES) -> bytes:
        """The first ``n`` bytes (or fewer, for a shorter document)."""
        if self._data is not None:
            return self._data[:n]
        stream = self.open_stream(max(n, 64))
        buf = b""
        try:
            async for chunk in stream:
                buf += chunk
                if len(buf) >= n:
                    break
        finally:
            aclose = getattr(stream, "aclose", None)
            if aclose is not None:
                await aclose()
        return buf[:n]

    async def validate(
        self,
        *,
        max_bytes: int = MAX_UPLOAD_BYTES,
        allowed_types: Collection[str] = ALLOWED_CONTENT_TYPES,
    ) -> Document:
        """Check the document and return it with its sniffed content type.

        Raises ``DocumentError`` for a missing, empty or oversized file, a type outside
        ``allowed_types``, or bytes that contradict the name's extension or declared type.
        A document that ``validate`` already returned is not read again: only its size (a
        file's is taken afresh) and type are checked against these limits.
        """
        if self._sniffed and self._still_valid(max_bytes, allowed_types):
            return self
        size = self._checked_size(max_bytes)
        try:
            head = await self.read_head()
        except DocumentError:
            raise
        except OSError as exc:
            raise DocumentError(
                f"cannot read document {self.name}: {exc.strerror}", name=self.name
            ) from exc
        sniffed = self._checked_type(head, allowed_types)
        return self._sniffed_as(sniffed, size)

    def _checked_size(self, max_bytes: int) -> int | None:
        """The size (a file's taken afresh); ``DocumentError`` when missing, empty or too big."""
        if self.path is not None and not self._pinned:
            try:
                size: int | None = self.path.stat().st_size
            except OSError as exc:
                raise DocumentError(
                    f"document file not found: {self.name}", name=self.name
                ) from exc
        else:
            size = self.size
        if size is not None and size == 0:
            raise DocumentError(f"document is empty: {self.name}", name=self.name)
        if size is not None and size > max_bytes:
            raise DocumentError(
                f"document {self.name} is {size} bytes, over the limit of {max_bytes}",
                name=self.name,
            )
        return size

    def _checked_type(self, head: bytes, allowed_types: Collection[str]) -> str:
        """The type ``head`` proves; ``DocumentError`` when none, contradicted or not allowed."""
        if not head:
            raise DocumentError(f"document is empty: {self.name}", name=self.name)
        sniffed = sniff_content_type(head)
        claimed = self.content_type or content_type_from_name(self.name)
        if sniffed is None:
            raise DocumentError(
                f"document {self.name} is not a JPEG, PNG, PDF or HEIC/HEIF file", name=self.name
            )
        if claimed is not None and claimed != sniffed and not {claimed, sniffed} <= HEIF_FAMILY:
            raise DocumentError(
                f"document {self.name} claims {claimed} but its content is {sniffed}",
                name=self.name,
            )
        if sniffed not in allowed_types:
            raise DocumentError(
                f"document {self.name} has type {sniffed}, which is not allowed", name=self.name
            )
        return sniffed

    def _presniffed(self) -> Document:
        """This in-memory document as ``validate`` would return it, if its bytes agree with its
        type (else itself, for ``validate`` to report): for documents shared by many runs."""
        data = self._data
        if self._sniffed or not data:
            return self
        sniffed = agreeing_type(self.name, self.content_type, data[:SNIFF_BYTES])
        if sniffed is None:
            return self
        return self._sniffed_as(sniffed, self.size)

    def _sniffed_as(self, content_type: str, size: int | None) -> Document:
        """This document, its content proven to be ``content_type``."""
        # Built directly: ``dataclasses.replace`` costs several times more.
        return type(self)(
            name=self.name,
            content_type=content_type,
            size=size,
            _factory=self._factory,
            path=self.path,
            _data=self._data,
            _sniffed=True,
            _pinned=self._pinned,
        )

    def _still_valid(self, max_bytes: int, allowed_types: Collection[str]) -> bool:
        # The content's type was proven by an earlier ``validate``; what may differ now is the
        # limits, and for a file its size (then the whole check runs again).
        if self.content_type not in allowed_types:
            return False
        size = self.size
        if self.path is not None and not self._pinned:
            try:
                size = self.path.stat().st_size
            except OSError:
                return False
            if size != self.size:
                return False
        return size is None or 0 < size <= max_bytes
