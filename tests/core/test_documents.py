"""Document: construction, sniffing, validation, streams."""

from __future__ import annotations

from pathlib import Path

import pytest
from corekit import JPEG, png_bytes

from kycflow import Document, DocumentError
from kycflow.documents import content_type_from_name, sniff_content_type


def test_sniffing() -> None:
    assert sniff_content_type(JPEG) == "image/jpeg"
    assert sniff_content_type(png_bytes()) == "image/png"
    assert sniff_content_type(b"%PDF-1.7") == "application/pdf"
    assert sniff_content_type(b"\x00\x00\x00\x18ftypheic") == "image/heic"
    assert sniff_content_type(b"\x00\x00\x00\x18ftypmif1") == "image/heif"
    assert sniff_content_type(b"hello") is None
    assert content_type_from_name("A.JPEG") == "image/jpeg"
    assert content_type_from_name("a.txt") is None


async def test_from_path_streams_in_chunks(tmp_path: Path) -> None:
    path = tmp_path / "a.jpg"
    data = JPEG * 100
    path.write_bytes(data)
    doc = await Document.from_path(path).validate()
    assert doc.size == len(data)
    assert doc.content_type == "image/jpeg"
    chunks = [c async for c in doc.open_stream(1000)]
    assert max(len(c) for c in chunks) == 1000
    assert b"".join(chunks) == data
    assert "\\xff" not in repr(doc)


def test_missing_path(tmp_path: Path) -> None:
    with pytest.raises(DocumentError):
        Document.from_path(tmp_path / "nope.jpg")
    with pytest.raises(DocumentError):
        Document.from_path(tmp_path)


async def test_validate_failures(tmp_path: Path) -> None:
    with pytest.raises(DocumentError, match="empty"):
        await Document.from_bytes(b"", "a.jpg").validate()
    with pytest.raises(DocumentError, match="over the limit"):
        await Document.from_bytes(JPEG, "a.jpg").validate(max_bytes=10)
    with pytest.raises(DocumentError, match="not a JPEG"):
        await Document.from_bytes(b"plain text here", "a.txt").validate()
    with pytest.raises(DocumentError, match="claims"):
        await Document.from_bytes(png_bytes(), "a.jpg", content_type="image/jpeg").validate()
    with pytest.raises(DocumentError, match="not allowed"):
        await Document.from_bytes(JPEG, "a.jpg").validate(allowed_types={"image/png"})
    path = tmp_path / "gone.jpg"
    path.write_bytes(JPEG)
    doc = Document.from_path(path)
    path.unlink()
    with pytest.raises(DocumentError, match="not found"):
        await doc.validate()


async def test_heic_family_mismatch_tolerated() -> None:
    doc = Document.from_bytes(b"\x00\x00\x00\x18ftypheic" + b"0" * 20, "a.heif")
    assert (await doc.validate()).content_type == "image/heic"
