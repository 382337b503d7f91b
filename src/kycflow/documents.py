"""Documents to upload: a name, a content type, a size and a re-openable byte stream.

Everything here is local: no request is made. ``validate`` raises ``DocumentError`` for a file
that is missing, empty, too large, of a disallowed type or whose bytes contradict its extension,
so that a bad file is refused before the first request of the step that needs it.
"""

from __future__ import annotations

import asyncio
import functools
import os
from collections.abc import AsyncIterator, Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from ._constants import ALLOWED_CONTENT_TYPES, MAX_UPLOAD_BYTES, UPLOAD_CHUNK_BYTES
from .errors import DocumentError

__all__ = ["Document", "content_type_from_name", "sniff_content_type"]

_EXTENSIONS = {
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ".pdf": "application/pdf",
    ".heic": "image/heic",
    ".heif": "image/heif",
}
_HEIC_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs"}
_HEIF_BRANDS = {b"mif1", b"msf1", b"heif"}
_HEIF_FAMILY = {"image/heic", "image/heif"}
SNIFF_BYTES = 32


def sniff_content_type(head: bytes) -> str | None:
    """The content type that a file's first bytes prove (JPEG, PNG, PDF, HEIC/HEIF), else None."""
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    if len(head) >= 12 and head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in _HEIC_BRANDS:
            return "image/heic"
        if brand in _HEIF_BRANDS:
            return "image/heif"
    return None


def content_type_from_name(name: str) -> str | None:
    """The content type a file name's extension claims, else None."""
    return _type_of_name(name)


@functools.lru_cache(maxsize=1024)
def _type_of_name(name: str) -> str | None:
    # Cached: providers hand out the same few names over and over.
    return _EXTENSIONS.get(os.path.splitext(name)[1].lower())


def _agreeing_type(name: str, claimed: str | None, head: bytes) -> str | None:
    """The sniffed type of ``head`` when it agrees with the claim (or the name's), else None."""
    sniffed = sniff_content_type(head)
    if sniffed is None:
        return None
    claimed = claimed or content_type_from_name(name)
    if claimed is not None and claimed != sniffed and not {claimed, sniffed} <= _HEIF_FAMILY:
        return None
    return sniffed


StreamFactory = Callable[[int], AsyncIterator[bytes]]


async def _file_chunks(
    path: Path, chunk_size: int, opener: Callable[[], BinaryIO] | None = None
) -> AsyncIterator[bytes]:
    # Reads happen in a worker thread so a slow disk never blocks the event loop; the file is
    # closed in ``finally`` even when the consumer is cancelled and closes the generator.
    # ``opener`` (a provider's confined open) replaces opening ``path`` by name.
    open_file: Callable[[], BinaryIO] = opener or (lambda: path.open("rb"))
    opening = asyncio.ensure_future(asyncio.to_thread(open_file))
    try:
        handle = await asyncio.shield(opening)
    except asyncio.CancelledError:
        # The worker thread opens the file regardless (an aiohttp writer task is cancelled
        # when the server answers before reading the body): close it once it is open.
        opening.add_done_callback(_close_opened)
        raise
    try:
        while True:
            chunk = await asyncio.to_thread(handle.read, chunk_size)
            if not chunk:
                return
            yield chunk
    finally:
        handle.close()


def _close_opened(opening: asyncio.Future[Any]) -> None:
    # A done callback: the open may also have failed (nothing to close) or been cancelled.
    if not opening.cancelled() and opening.exception() is None:
        opening.result().close()


async def _bytes_chunks(data: bytes, chunk_size: int) -> AsyncIterator[bytes]:
    view = memoryview(data)
    for start in range(0, len(view), chunk_size):
        yield bytes(view[start : start + chunk_size])


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
            _factory=lambda chunk_size: _file_chunks(file_path, chunk_size),
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
            sniffed = _agreeing_type(name, content_type, payload[:SNIFF_BYTES])
            return cls(
                name=name,
                content_type=sniffed or content_type,
                size=len(payload),
                _factory=lambda chunk_size: _bytes_chunks(payload, chunk_size),
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
            _factory=lambda chunk_size: _bytes_chunks(payload, chunk_size),
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
        try:
            head = await self.read_head()
        except DocumentError:
            raise
        except OSError as exc:
            raise DocumentError(
                f"cannot read document {self.name}: {exc.strerror}", name=self.name
            ) from exc
        if not head:
            raise DocumentError(f"document is empty: {self.name}", name=self.name)
        sniffed = sniff_content_type(head)
        claimed = self.content_type or content_type_from_name(self.name)
        if sniffed is None:
            raise DocumentError(
                f"document {self.name} is not a JPEG, PNG, PDF or HEIC/HEIF file", name=self.name
            )
        if claimed is not None and claimed != sniffed and not {claimed, sniffed} <= _HEIF_FAMILY:
            raise DocumentError(
                f"document {self.name} claims {claimed} but its content is {sniffed}",
                name=self.name,
            )
        if sniffed not in allowed_types:
            raise DocumentError(
                f"document {self.name} has type {sniffed}, which is not allowed", name=self.name
            )
        # Built directly: ``dataclasses.replace`` costs several times more.
        return type(self)(
            name=self.name,
            content_type=sniffed,
            size=size,
            _factory=self._factory,
            path=self.path,
            _data=self._data,
            _sniffed=True,
            _pinned=self._pinned,
        )

    def _presniffed(self) -> Document:
        """This in-memory document as ``validate`` would return it, if its bytes agree with its
        type (else itself, for ``validate`` to report): for documents shared by many runs."""
        data = self._data
        if self._sniffed or not data:
            return self
        sniffed = _agreeing_type(self.name, self.content_type, data[:SNIFF_BYTES])
        if sniffed is None:
            return self
        return type(self)(
            name=self.name,
            content_type=sniffed,
            size=self.size,
            _factory=self._factory,
            path=self.path,
            _data=data,
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
