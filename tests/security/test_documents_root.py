"""DirectoryProvider's root holds against a hostile documents directory (TOCTOU included).

Between validation and upload, the file, or its parent directory, is swapped for a symlink to
a directory outside the root; a background thread also flips the parent while documents are
opened and uploaded. A real loopback server records every byte uploaded: none may come from
outside the root.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from aiohttp import web
from seckit import ACCESS, Origin, json_reply, make_client

import kycflow
from kycflow import DocumentError

PASSPORT = kycflow.DocumentType(id=2, description="Passport")
INSIDE = b"INSIDE-MARKER"
OUTSIDE = b"OUTSIDE-SECRET"
LARGE = 2 * 1024 * 1024  # over the size read whole at open: streamed by a confined re-open


def jpeg(marker: bytes, padding: int) -> bytes:
    return b"\xff\xd8\xff\xe0" + marker * 8 + b"\0" * padding + marker


@pytest.fixture
async def api() -> AsyncIterator[Origin]:
    async def handler(request: web.Request, body: bytes) -> web.StreamResponse:
        return json_reply({"data": {"file": f"u/{len(body)}"}})

    srv = Origin(handler=handler)
    await srv.start()
    yield srv
    await srv.close()


class Tree:
    """``base/root/sub/passport.jpg`` inside, ``base/outside/{passport.jpg,sub/passport.jpg}``
    outside, both with the same names and sizes so only the markers tell them apart."""

    def __init__(self, base: Path, padding: int) -> None:
        self.root = base / "root"
        self.outside = base / "outside"
        self.padding = padding
        (self.outside / "sub").mkdir(parents=True)
        for target in (self.outside / "passport.jpg", self.outside / "sub" / "passport.jpg"):
            target.write_bytes(jpeg(OUTSIDE, padding))
        self.root.mkdir()
        self.reset()

    @property
    def sub(self) -> Path:
        return self.root / "sub"

    def reset(self) -> None:
        if self.sub.is_symlink():
            self.sub.unlink()
        elif self.sub.exists():
            self.sub.rename(self.root / f"old-{time.monotonic_ns()}")
        self.sub.mkdir()
        (self.sub / "passport.jpg").write_bytes(jpeg(INSIDE, self.padding))

    def swap_file(self) -> None:
        link = self.sub / "link.tmp"
        link.symlink_to(self.outside / "passport.jpg")
        os.replace(link, self.sub / "passport.jpg")  # atomic: never missing

    def swap_parent(self) -> None:
        self.sub.rename(self.root / f"old-{time.monotonic_ns()}")
        self.sub.symlink_to(self.outside, target_is_directory=True)


def _uploaded_outside(api: Origin) -> int:
    return sum(OUTSIDE in seen.body for seen in api.seen)


@pytest.mark.parametrize("padding", [2048, LARGE], ids=["small", "large"])
@pytest.mark.parametrize("swap", ["file", "parent"])
async def test_swapping_for_symlinks_after_validation_uploads_nothing_from_outside(
    api: Origin, tmp_path: Path, padding: int, swap: str
) -> None:
    tree = Tree(tmp_path, padding)
    provider = kycflow.DirectoryProvider(tree.root, mapping={2: "sub/passport.jpg"})
    uploaded = refused = 0
    async with make_client(api.base_url) as client:
        files = client.with_auth(kycflow.BearerToken(ACCESS)).files
        for _ in range(10):
            tree.reset()
            docs = await provider.documents_for(PASSPORT)
            assert docs is not None
            doc = await docs[0].validate()
            tree.swap_file() if swap == "file" else tree.swap_parent()
            try:
                await files.upload(doc)
                uploaded += 1
            except DocumentError:
                refused += 1  # the large file's re-open met the symlink: refused
            # Opened afresh now, the swapped path is refused outright.
            with pytest.raises(DocumentError):
                await provider.documents_for(PASSPORT)
    assert _uploaded_outside(api) == 0
    if padding < LARGE:
        # Read whole when opened: the upload carries the validated, inside content.
        assert uploaded == 10
        assert all(INSIDE in seen.body for seen in api.seen)
    else:
        assert refused == 10
        assert api.seen == []


@contextlib.contextmanager
def flipping(tree: Tree) -> Iterator[list[int]]:
    """A thread flips ``sub`` and its file between the real ones and symlinks out."""
    stop = threading.Event()
    flips = [0]

    def run() -> None:
        real = tree.root / "sub-real"
        while not stop.is_set():
            with contextlib.suppress(OSError):
                tree.sub.rename(real)
                tree.sub.symlink_to(tree.outside, target_is_directory=True)
                time.sleep(0.0005)
                tree.sub.unlink()
                real.rename(tree.sub)
                link = real.parent / "f.tmp"
                link.symlink_to(tree.outside / "passport.jpg")
                inside = tree.sub / "passport.jpg"
                os.replace(inside, real.parent / "f.real")
                os.replace(link, inside)
                time.sleep(0.0005)
                os.replace(real.parent / "f.real", inside)
                flips[0] += 1

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield flips
    finally:
        stop.set()
        thread.join(5)
        assert not thread.is_alive()


@pytest.mark.parametrize("padding", [2048, LARGE], ids=["small", "large"])
async def test_background_symlink_race_uploads_nothing_from_outside(
    api: Origin, tmp_path: Path, padding: int
) -> None:
    tree = Tree(tmp_path, padding)
    provider = kycflow.DirectoryProvider(tree.root, mapping={2: "sub/passport.jpg"})
    outcomes = {"uploaded": 0, "refused": 0}
    rounds = 150 if padding < LARGE else 30
    async with make_client(api.base_url) as client:
        files = client.with_auth(kycflow.BearerToken(ACCESS)).files
        with flipping(tree) as flips:
            for _ in range(rounds):
                try:
                    docs = await provider.documents_for(PASSPORT)
                    assert docs is not None
                    await files.upload(docs[0])
                    outcomes["uploaded"] += 1
                except DocumentError:
                    outcomes["refused"] += 1
                await asyncio.sleep(0)
    assert flips[0] > 0
    assert sum(outcomes.values()) == rounds
    assert _uploaded_outside(api) == 0
    assert all(INSIDE in seen.body for seen in api.seen)


async def test_a_fifo_or_a_directory_named_like_a_document_is_refused_at_once(
    tmp_path: Path,
) -> None:
    os.mkfifo(tmp_path / "passport.jpg")  # opening it for reading would block forever
    (tmp_path / "selfie.jpg").mkdir()
    provider = kycflow.DirectoryProvider(tmp_path)
    for description in ("Passport", "Selfie"):
        with pytest.raises(DocumentError, match="not a regular file"):
            await asyncio.wait_for(
                provider.documents_for(kycflow.DocumentType(id=1, description=description)), 5
            )


async def test_a_symlink_staying_inside_the_root_still_works(api: Origin, tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "real" / "p.jpg").write_bytes(jpeg(INSIDE, 100))
    (tmp_path / "alias").symlink_to(tmp_path / "real", target_is_directory=True)
    (tmp_path / "passport.jpg").symlink_to(tmp_path / "alias" / "p.jpg")
    docs = await kycflow.DirectoryProvider(tmp_path).documents_for(PASSPORT)
    assert docs is not None
    assert [d.name for d in docs] == ["passport.jpg"]
    async with make_client(api.base_url) as client:
        await client.with_auth(kycflow.BearerToken(ACCESS)).files.upload(docs[0])
    assert INSIDE in api.seen[0].body
