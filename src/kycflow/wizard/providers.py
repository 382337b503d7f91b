"""File providers: where the WizardRunner gets the documents a wizard step asks for.

A provider is asked for one document type at a time and answers with the documents to submit
for it, or ``None`` when it cannot supply that type. Providers make no request; the runner
validates every document of a step before the step's first request.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePath
from typing import Protocol, TypeAlias, runtime_checkable

from ..documents import Document, content_type_from_name
from ..errors import DocumentError
from ..models import DocumentType
from .confined import OpenedFiles, open_documents
from .keys import keyed, lookup, normalise_key
from .memory import CallableProvider, MemoryProvider

__all__ = [
    "CallableProvider",
    "DirectoryProvider",
    "FileProvider",
    "MemoryProvider",
    "normalise_key",
]

StrPath: TypeAlias = "str | os.PathLike[str]"


@runtime_checkable
class FileProvider(Protocol):
    """Supplies the documents for a wizard step's document type."""

    async def documents_for(self, doc_type: DocumentType) -> Sequence[Document] | None:
        """The documents to submit for ``doc_type``, or ``None`` if this provider has none."""
        ...


def _check_relative(rel: StrPath) -> PurePath:
    # Lexical refusal first: an absolute path or a ``..`` part is refused even when it would
    # happen to resolve inside the root.
    text = os.fspath(rel)
    if not isinstance(text, str) or "\x00" in text:
        raise DocumentError("document paths must be text without NUL bytes")
    pure = PurePath(text)
    if pure.is_absolute() or pure.anchor:
        raise DocumentError("absolute paths are refused; give a path relative to the root")
    if ".." in pure.parts:
        raise DocumentError("paths with '..' are refused", name=pure.name)
    return pure


# Multi-file suffixes, in upload order: ``id_card_front``, ``id_card_back``, ``id_card_2``.
_SIDE_ORDER = {"front": 0, "back": 1, "reverse": 1, "reverse_side": 1}


def _suffix_rank(suffix: str) -> tuple[int, int] | None:
    if suffix == "":
        return (0, 0)
    if suffix in _SIDE_ORDER:
        return (1, _SIDE_ORDER[suffix])
    if suffix.isascii() and suffix.isdigit():  # "²".isdigit() is True, int("²") fails
        return (2, int(suffix))
    return None


_SETTLED_NS = 1_000_000_000


def _discovery_index(names: Sequence[str]) -> dict[str, list[PurePath]]:
    """Normalised description -> the files a type of that description gets, in upload order.

    A name counts for its whole stem (``id_card_front`` for "Id card front") and for every
    prefix at a ``_`` whose remainder is a side or a number (``id_card`` for "Id card")."""
    ranked: dict[str, list[tuple[tuple[int, int], str]]] = {}
    for name in names:
        if content_type_from_name(name) is None:
            continue
        stem = normalise_key(os.path.splitext(name)[0])
        ranked.setdefault(stem, []).append(((0, 0), name))
        for cut in range(len(stem)):
            if stem[cut] != "_":
                continue
            rank = _suffix_rank(stem[cut + 1 :])
            if rank is not None:
                ranked.setdefault(stem[:cut], []).append((rank, name))
    return {key: [PurePath(name) for _, name in sorted(found)] for key, found in ranked.items()}


class DirectoryProvider:
    """Documents stored as files under ``root``.

    With ``mapping``, each type id (``2``) or description (``"Passport"``, matched case-, space-
    and underscore-insensitively) maps to a path or a list of paths relative to ``root``; types
    not in the mapping are not supplied.

    Without a mapping, the files directly under ``root`` whose extension is a document type
    (``.jpg .jpeg .png .pdf .heic .heif``) are matched by stem against the type's description,
    normalised (lower case, runs of spaces, ``-`` and ``_`` become one ``_``): ``passport.jpg``
    is "Passport", ``proof_of_address.pdf`` is "Proof of address". A type may have several
    files: the stem plus ``_front``, ``_back`` (or ``_reverse``, ``_reverse_side``) or ``_<n>``,
    e.g. ``id_card_front.jpg`` + ``id_card_back.jpg`` or ``id_card_1.jpg`` + ``id_card_2.jpg``.
    They are submitted in this order: the bare stem, front, back, then by number.

    Any path that escapes the root is refused with ``DocumentError``: an absolute path, a
    ``..`` part, or a symlink that resolves outside ``root``. Each file is opened once, confined
    at open time (no symlink followed on the way unless it stays inside the root), and uploaded
    from what was opened: swapping it, or a parent directory, for a symlink afterwards changes
    nothing. Small files that have not changed are served again from what the provider read
    (checked against their device, inode, size and times), so many runs over the same files
    share their bytes; the directory listing is cached against the root's mtime.
    """

    def __init__(
        self,
        root: StrPath,
        mapping: Mapping[int | str, StrPath | Sequence[StrPath]] | None = None,
    ) -> None:
        self.root = Path(root)
        self._listing: tuple[tuple[int, int, int], dict[str, list[PurePath]]] | None = None
        self._opened = OpenedFiles()
        self._mapping: dict[int | str, list[PurePath]] | None = None
        if mapping is not None:
            self._mapping = {}
            for key, value in keyed(mapping).items():
                paths: Sequence[StrPath] = (
                    [value] if isinstance(value, str | os.PathLike) else list(value)
                )
                self._mapping[key] = [_check_relative(p) for p in paths]

    def __repr__(self) -> str:
        return f"DirectoryProvider(root={str(self.root)!r})"

    def _discover(self, doc_type: DocumentType) -> list[PurePath]:
        key = normalise_key(doc_type.description)
        if not key:
            return []
        return self._index().get(key, [])

    def _index(self) -> dict[str, list[PurePath]]:
        # The listing is cached against the root's identity and mtime: a run asks for each of
        # a step's types, and a batch asks again in every run. A listing taken within a second
        # of the directory's last change is not trusted (a file added in the same timestamp
        # tick would not move the mtime): it is taken again next time.
        try:
            info = os.stat(self.root)
        except (OSError, ValueError) as exc:
            raise DocumentError("cannot list the provider's root directory") from exc
        stamp = (info.st_dev, info.st_ino, info.st_mtime_ns)
        cached = self._listing
        if cached is not None and cached[0] == stamp:
            return cached[1]
        try:
            names = os.listdir(self.root)
        except (OSError, ValueError) as exc:
            raise DocumentError("cannot list the provider's root directory") from exc
        index = _discovery_index(names)
        settled = time.time_ns() - info.st_mtime_ns > _SETTLED_NS
        self._listing = (stamp, index) if settled else None
        return index

    async def documents_for(self, doc_type: DocumentType) -> list[Document] | None:
        """The files for ``doc_type`` under the root, or ``None`` if there are none."""
        if self._mapping is not None:
            rels: list[PurePath] = lookup(self._mapping, doc_type) or []
        else:
            rels = self._discover(doc_type)
        if not rels:
            return None
        return await open_documents(self.root, rels, self._opened)
