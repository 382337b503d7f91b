"""Providers without files on disk: ``MemoryProvider`` (bytes) and ``CallableProvider``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TypeAlias

from ..documents import Document, sniff_content_type
from ..errors import DocumentError, KycflowError
from ..models import DocumentType
from .keys import keyed, lookup, normalise_key

__all__ = ["CallableProvider", "DocumentLookup", "MemoryItem", "MemoryProvider"]

MemoryItem: TypeAlias = "bytes | tuple[str, bytes] | Document"

_EXTENSION_OF = {
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "application/pdf": ".pdf",
    "image/heic": ".heic",
    "image/heif": ".heif",
}


class MemoryProvider:
    """Documents held in memory, keyed by type id or description.

    A value is ``bytes`` (named after the type, e.g. ``passport.jpg``, the extension from the
    sniffed content), a ``(name, bytes)`` pair, a ``Document``, or a list of these for a type of
    several files.
    """

    def __init__(self, files: Mapping[int | str, MemoryItem | Sequence[MemoryItem]]) -> None:
        self._files = keyed(files)
        # Documents are immutable and re-openable, so each type's are built once and shared
        # by every run that asks for them.
        self._built: dict[tuple[int, str], list[Document] | None] = {}

    def __repr__(self) -> str:
        return f"MemoryProvider(types={len(self._files)})"

    async def documents_for(self, doc_type: DocumentType) -> list[Document] | None:
        """The documents stored for ``doc_type``, or ``None``."""
        key = (doc_type.id, doc_type.description)
        if key not in self._built:
            self._built[key] = self._build(doc_type)
        built = self._built[key]
        return None if built is None else list(built)

    def _build(self, doc_type: DocumentType) -> list[Document] | None:
        found = lookup(self._files, doc_type)
        if found is None:
            return None
        items = found if isinstance(found, list) else [found]
        base = normalise_key(doc_type.description) or f"type_{doc_type.id}"
        docs: list[Document] = []
        for number, item in enumerate(items, start=1):
            stem = base if len(items) == 1 else f"{base}_{number}"
            # Sniffed once here, not in each run's ``validate``: the documents are shared.
            docs.append(_memory_document(item, stem)._presniffed())
        return docs or None


def _memory_document(item: object, stem: str) -> Document:
    if isinstance(item, Document):
        return item
    if isinstance(item, bytes | bytearray | memoryview):
        data = bytes(item)
        ext = _EXTENSION_OF.get(sniff_content_type(data[:32]) or "", ".bin")
        return Document.from_bytes(data, f"{stem}{ext}")
    if (
        isinstance(item, tuple)
        and len(item) == 2
        and isinstance(item[0], str)
        and isinstance(item[1], bytes | bytearray | memoryview)
    ):
        return Document.from_bytes(bytes(item[1]), item[0])
    raise DocumentError(f"unsupported in-memory document for {stem}", name=stem)


DocumentLookup: TypeAlias = Callable[
    [DocumentType], Awaitable["Sequence[Document] | Document | None"]
]


class CallableProvider:
    """Documents from an async function of the document type.

    The function returns a ``Document``, a list of them, or ``None``. Any exception it raises
    that is not a kycflow error is wrapped in ``DocumentError``.
    """

    def __init__(self, func: DocumentLookup) -> None:
        self._func = func

    def __repr__(self) -> str:
        return f"CallableProvider({getattr(self._func, '__qualname__', 'function')})"

    async def documents_for(self, doc_type: DocumentType) -> list[Document] | None:
        """What the function returns for ``doc_type``, as a list (``None`` if empty)."""
        try:
            found = await self._func(doc_type)
        except KycflowError:
            raise
        except Exception as exc:
            raise DocumentError(
                f"the document provider failed for type {doc_type.id}: {type(exc).__name__}"
            ) from exc
        if found is None:
            return None
        docs = [found] if isinstance(found, Document) else list(found)
        if not all(isinstance(doc, Document) for doc in docs):
            raise DocumentError(f"the document provider returned a non-Document for {doc_type.id}")
        return docs or None
