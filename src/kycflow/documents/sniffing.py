"""Content types: what a file's first bytes prove, and what its name's extension claims."""

from __future__ import annotations

import functools
import os

__all__ = [
    "HEIF_FAMILY",
    "SNIFF_BYTES",
    "agreeing_type",
    "content_type_from_name",
    "sniff_content_type",
]

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
HEIF_FAMILY = {"image/heic", "image/heif"}
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


def agreeing_type(name: str, claimed: str | None, head: bytes) -> str | None:
    """The sniffed type of ``head`` when it agrees with the claim (or the name's), else None."""
    sniffed = sniff_content_type(head)
    if sniffed is None:
        return None
    claimed = claimed or content_type_from_name(name)
    if claimed is not None and claimed != sniffed and not {claimed, sniffed} <= HEIF_FAMILY:
        return None
    return sniffed
