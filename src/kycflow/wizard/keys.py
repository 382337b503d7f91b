"""Keys of a provider's mapping: a type id, or a description normalised."""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import TypeVar

from ..errors import ConfigurationError
from ..models import DocumentType

__all__ = ["keyed", "lookup", "normalise_key"]

_V = TypeVar("_V")


@functools.lru_cache(maxsize=1024)
def normalise_key(text: str) -> str:
    """``"Proof of address"``, ``"proof_of-Address"`` -> ``"proof_of_address"``."""
    # Cached: a wizard asks for the same few descriptions in every run.
    return re.sub(r"[\s_\-]+", "_", text.strip().lower()).strip("_")


def keyed(mapping: Mapping[int | str, _V]) -> dict[int | str, _V]:
    # Integer keys (and all-digit strings) are type ids; other strings are descriptions.
    out: dict[int | str, _V] = {}
    for key, value in mapping.items():
        if isinstance(key, int) and not isinstance(key, bool):
            out[key] = value
        elif isinstance(key, str) and key.strip().isascii() and key.strip().isdigit():
            # ASCII only: str.isdigit() accepts "¹", which int() refuses.
            out[int(key.strip())] = value
        elif isinstance(key, str):
            out[normalise_key(key)] = value
        else:
            raise ConfigurationError("mapping keys must be type ids or descriptions")
    return out


def lookup(keyed: Mapping[int | str, _V], doc_type: DocumentType) -> _V | None:
    if doc_type.id in keyed:
        return keyed[doc_type.id]
    return keyed.get(normalise_key(doc_type.description)) if doc_type.description else None
