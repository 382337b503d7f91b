"""File providers: DirectoryProvider discovery, mapping and path-escape refusals; memory and
callable providers."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from runner_fakes import JPEG, PDF, PNG, FakeServer

from kycflow import (
    CallableProvider,
    DirectoryProvider,
    Document,
    DocumentError,
    DocumentType,
    FileProvider,
    MemoryProvider,
    WizardRunner,
)
from kycflow.wizard import confined as _confined
from kycflow.wizard.providers import normalise_key

PASSPORT = DocumentType(id=2, description="Passport")
ID_CARD = DocumentType(id=1, description="ID card")
ADDRESS = DocumentType(id=5, description="Proof of address")
SELFIE = DocumentType(id=7, description="Selfie")


def _names(docs: list[Document] | None) -> list[str]:
    assert docs is not None
    return [d.name for d in docs]


@pytest.fixture
def root(tmp_path: Path) -> Path:
    base = tmp_path / "docs"
    base.mkdir()
    (base / "passport.jpg").write_bytes(JPEG)
    (base / "passport.txt").write_bytes(b"notes")  # not a document extension: ignored
    (base / "Proof_Of-Address.PDF").write_bytes(PDF)
    (base / "id_card_2.jpg").write_bytes(JPEG)
    (base / "id_card_back.png").write_bytes(PNG)
    (base / "id_card_front.jpg").write_bytes(JPEG)
    (base / "id_card_10.jpg").write_bytes(JPEG)
    (base / "id_card_scan_old.jpg").write_bytes(JPEG)  # unknown suffix: not part of the type
    return base


def test_normalise_key() -> None:
    assert normalise_key(" Proof of-Address ") == "proof_of_address"
    assert normalise_key("ID__card") == "id_card"


async def test_discovery_by_description(root: Path) -> None:
    provider = DirectoryProvider(root)
    assert isinstance(provider, FileProvider)
    assert _names(await provider.documents_for(PASSPORT)) == ["passport.jpg"]
    assert _names(await provider.documents_for(ADDRESS)) == ["Proof_Of-Address.PDF"]
    assert _names(await provider.documents_for(ID_CARD)) == [
        "id_card_front.jpg",
        "id_card_back.png",
        "id_card_2.jpg",
        "id_card_10.jpg",
    ]
    assert await provider.documents_for(SELFIE) is None
    docs = await provider.documents_for(ADDRESS)
    assert docs is not None
    assert (await docs[0].validate()).content_type == "application/pdf"


async def test_mapping_by_id_and_description(root: Path) -> None:
    (root / "sub").mkdir()
    (root / "sub" / "me.jpg").write_bytes(JPEG)
    provider = DirectoryProvider(
        root,
        mapping={
            2: "id_card_front.jpg",
            "proof of ADDRESS": ["passport.jpg", Path("sub/me.jpg")],
            "7": "sub/me.jpg",
        },
    )
    assert _names(await provider.documents_for(PASSPORT)) == ["id_card_front.jpg"]
    assert _names(await provider.documents_for(ADDRESS)) == ["passport.jpg", "me.jpg"]
    assert _names(await provider.documents_for(SELFIE)) == ["me.jpg"]
    # With a mapping, unmapped types are not discovered.
    assert await provider.documents_for(ID_CARD) is None


async def test_mapping_to_a_missing_file(root: Path) -> None:
    provider = DirectoryProvider(root, mapping={2: "nope.jpg"})
    with pytest.raises(DocumentError):
        await provider.documents_for(PASSPORT)


@pytest.mark.parametrize("bad", ["../outside.jpg", "sub/../../outside.jpg"])
def test_dotdot_is_refused(root: Path, bad: str) -> None:
    (root.parent / "outside.jpg").write_bytes(JPEG)
    with pytest.raises(DocumentError):
        DirectoryProvider(root, mapping={2: bad})


def test_absolute_path_is_refused(root: Path) -> None:
    with pytest.raises(DocumentError):
        DirectoryProvider(root, mapping={2: str(root / "passport.jpg")})


async def test_symlink_pointing_out_is_refused(root: Path) -> None:
    secret = root.parent / "secret.jpg"
    secret.write_bytes(JPEG)
    (root / "link.jpg").symlink_to(secret)
    (root / "selfie.jpg").symlink_to(secret)
    (root / "inside.jpg").symlink_to(root / "passport.jpg")
    mapped = DirectoryProvider(root, mapping={2: "link.jpg", 1: "inside.jpg"})
    with pytest.raises(DocumentError):
        await mapped.documents_for(PASSPORT)
    # A symlink that stays inside the root is fine.
    assert _names(await mapped.documents_for(ID_CARD)) == ["inside.jpg"]
    # Discovery applies the same check.
    with pytest.raises(DocumentError):
        await DirectoryProvider(root).documents_for(SELFIE)


async def test_symlinked_directory_pointing_out_is_refused(root: Path) -> None:
    outside = root.parent / "elsewhere"
    outside.mkdir()
    (outside / "p.jpg").write_bytes(JPEG)
    (root / "dir").symlink_to(outside, target_is_directory=True)
    provider = DirectoryProvider(root, mapping={2: "dir/p.jpg"})
    with pytest.raises(DocumentError):
        await provider.documents_for(PASSPORT)


async def test_directory_provider_drives_a_run_and_validates_before_upload(root: Path) -> None:
    server = FakeServer([[{"id": 1, "description": "ID card"}]])
    result = await WizardRunner(server.client(), DirectoryProvider(root)).run()
    assert [Path(p).name.split("_", 1)[1] for p in result.steps[0].files] == [
        "id_card_front.jpg",
        "id_card_back.png",
        "id_card_2.jpg",
        "id_card_10.jpg",
    ]
    # A second file whose bytes contradict its extension stops the step before any upload.
    (root / "id_card_back.png").write_bytes(JPEG)
    server = FakeServer([[{"id": 1, "description": "ID card"}]])
    with pytest.raises(DocumentError) as info:
        await WizardRunner(server.client(), DirectoryProvider(root)).run()
    assert info.value.name == "id_card_back.png"
    assert server.user().upload_calls == 0


async def test_memory_provider_forms() -> None:
    doc = Document.from_bytes(PDF, "statement.pdf")
    provider = MemoryProvider(
        {
            "Passport": JPEG,
            1: [JPEG, ("back.png", PNG)],
            "5": doc,
        }
    )
    assert _names(await provider.documents_for(PASSPORT)) == ["passport.jpg"]
    assert _names(await provider.documents_for(ID_CARD)) == ["id_card_1.jpg", "back.png"]
    assert await provider.documents_for(ADDRESS) == [doc]
    assert await provider.documents_for(SELFIE) is None
    assert "bytes" not in repr(provider)


async def test_callable_provider() -> None:
    calls: list[int] = []

    async def lookup(doc_type: DocumentType) -> Document | None:
        calls.append(doc_type.id)
        return Document.from_bytes(JPEG, "p.jpg") if doc_type.id == 2 else None

    provider = CallableProvider(lookup)
    assert _names(await provider.documents_for(PASSPORT)) == ["p.jpg"]
    assert await provider.documents_for(ID_CARD) is None
    assert calls == [2, 1]

    async def broken(doc_type: DocumentType) -> list[Document]:
        raise ValueError("boom")

    with pytest.raises(DocumentError):
        await CallableProvider(broken).documents_for(PASSPORT)

    async def wrong(doc_type: DocumentType) -> list[Document]:
        return [b"raw"]  # type: ignore[list-item]

    with pytest.raises(DocumentError):
        await CallableProvider(wrong).documents_for(PASSPORT)


async def test_discovery_sees_files_added_and_removed_after_a_listing(root: Path) -> None:
    # The listing is cached against the root's mtime; a fresh directory is listed every time.
    provider = DirectoryProvider(root)
    assert await provider.documents_for(SELFIE) is None
    (root / "selfie.jpg").write_bytes(JPEG)
    assert _names(await provider.documents_for(SELFIE)) == ["selfie.jpg"]
    (root / "selfie.jpg").unlink()
    assert await provider.documents_for(SELFIE) is None


async def test_discovery_cache_is_revalidated_by_the_root_mtime(root: Path) -> None:
    provider = DirectoryProvider(root)
    old = time.time() - 3600
    os.utime(root, (old, old))  # a settled directory: its listing is cached
    assert _names(await provider.documents_for(PASSPORT)) == ["passport.jpg"]
    assert provider._listing is not None
    (root / "passport_back.jpg").write_bytes(JPEG)  # moves the mtime: listed again
    assert _names(await provider.documents_for(PASSPORT)) == ["passport.jpg", "passport_back.jpg"]


@pytest.fixture
def settle_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    # Files written by a test are not "settled" for a second: trust them at once.
    monkeypatch.setattr(_confined, "_SETTLED_NS", -1)


def _count_opens(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    opened: list[str] = []
    real_open = os.open

    def counting_open(path: str, flags: int, *args: object, **kwargs: object) -> int:
        opened.append(str(path))
        return real_open(path, flags, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(_confined.os, "open", counting_open)
    return opened


@pytest.mark.usefixtures("settle_at_once")
async def test_an_unchanged_file_is_served_from_the_provider_cache(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    provider = DirectoryProvider(root, mapping={2: "passport.jpg"})
    first = await provider.documents_for(PASSPORT)
    opened = _count_opens(monkeypatch)
    second = await provider.documents_for(PASSPORT)
    assert first is not None
    assert second is not None
    assert second[0] is first[0]  # the same bytes, sniffed once
    assert opened == []
    assert await first[0].validate() is first[0]


@pytest.mark.usefixtures("settle_at_once")
async def test_a_changed_file_is_read_again(root: Path) -> None:
    provider = DirectoryProvider(root, mapping={2: "passport.jpg"})
    assert (await provider.documents_for(PASSPORT) or [None])[0].data == JPEG  # type: ignore[union-attr]
    (root / "passport.jpg").write_bytes(JPEG + b"more")
    again = await provider.documents_for(PASSPORT)
    assert again is not None
    assert again[0].data == JPEG + b"more"


@pytest.mark.usefixtures("settle_at_once")
async def test_a_cached_file_swapped_for_a_symlink_out_of_the_root_is_refused(
    root: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "secret.jpg"
    outside.write_bytes(JPEG + b"secret")
    provider = DirectoryProvider(root, mapping={2: "passport.jpg"})
    assert await provider.documents_for(PASSPORT) is not None
    (root / "passport.jpg").unlink()
    (root / "passport.jpg").symlink_to(outside)
    with pytest.raises(DocumentError, match="escapes"):
        await provider.documents_for(PASSPORT)


async def test_a_file_changed_within_the_last_second_is_not_cached(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    provider = DirectoryProvider(root, mapping={2: "passport.jpg"})
    first = await provider.documents_for(PASSPORT)
    opened = _count_opens(monkeypatch)
    second = await provider.documents_for(PASSPORT)
    assert first is not None
    assert second is not None
    assert second[0] is not first[0]
    assert opened  # opened again, confined


async def test_memory_documents_are_sniffed_once() -> None:
    provider = MemoryProvider({2: ("passport.jpg", JPEG)})
    docs = await provider.documents_for(PASSPORT)
    assert docs is not None
    assert docs[0].validated
    assert await docs[0].validate() is docs[0]
    mismatch = await MemoryProvider({2: ("passport.png", JPEG)}).documents_for(PASSPORT)
    assert mismatch is not None
    with pytest.raises(DocumentError, match="claims image/png"):
        await mismatch[0].validate()
