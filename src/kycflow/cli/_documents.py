"""Documents from the command line: ``--map`` and the provider that remembers type names."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ..documents import Document
from ..models import DocumentType
from ..wizard.providers import FileProvider
from ._errors import UsageError

__all__ = ["DescribingProvider", "parse_map"]


def parse_map(items: Sequence[str] | None, root: Path) -> dict[int | str, list[str]] | None:
    """``--map KEY=FILE[,FILE...]`` as a DirectoryProvider mapping; every file must exist."""
    if not items:
        return None
    mapping: dict[int | str, list[str]] = {}
    for item in items:
        key, sep, value = item.partition("=")
        files = [f.strip() for f in value.split(",") if f.strip()]
        if not sep or not key.strip() or not files:
            raise UsageError(f"--map expects TYPE=FILE[,FILE...], got {item!r}")
        for name in files:
            if not (root / name).is_file():
                raise UsageError(f"--map {key.strip()}: no file {name!r} in {root}")
        mapping.setdefault(key.strip(), []).extend(files)
    return dict(mapping)


class DescribingProvider:
    """Wraps a provider to remember each type's description, for the progress display."""

    def __init__(self, inner: FileProvider) -> None:
        self.inner = inner
        self.descriptions: dict[int, str] = {}

    def __repr__(self) -> str:
        return f"DescribingProvider({self.inner!r})"

    async def documents_for(self, doc_type: DocumentType) -> Sequence[Document] | None:
        """Delegates to the wrapped provider."""
        self.descriptions[doc_type.id] = doc_type.description
        return await self.inner.documents_for(doc_type)

    def describe_plain(self, type_id: int) -> str:
        """The type's description ("" when unknown)."""
        return self.descriptions.get(type_id, "")

    def describe(self, type_id: int) -> str:
        """``"Passport (2)"``, or the bare id when its description is unknown."""
        description = self.descriptions.get(type_id)
        return f"{description} ({type_id})" if description else str(type_id)
