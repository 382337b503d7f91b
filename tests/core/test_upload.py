"""Streamed multipart upload and local document validation."""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from corekit import JPEG, FakeServer, error, make_client, png_bytes, reply

import kycflow
from kycflow import errors as e

UPLOAD = "/v2/my/files"


def receiver(store: dict[str, Any], answer: Any = None, status: int = 201) -> Any:
    """Read the multipart part in chunks, hash it, and answer a stored path."""

    async def handler(request: web.Request) -> web.StreamResponse:
        reader = await request.multipart()
        part = await reader.next()
        assert isinstance(part, aiohttp.BodyPartReader)
        digest = hashlib.sha256()
        chunks = 0
        while chunk := await part.read_chunk(8192):
            digest.update(chunk)
            chunks += 1
        store.update(
            name=part.name,
            filename=part.filename,
            content_type=part.headers.get("Content-Type"),
            sha256=digest.hexdigest(),
            chunks=chunks,
            transfer_encoding=request.headers.get("Transfer-Encoding"),
        )
        payload = answer if answer is not None else {"data": {"file": f"u1/{part.filename}"}}
        return await reply(payload, status)(request)

    return handler


async def test_upload_path_streams_file(
    server: FakeServer, client: kycflow.Client, tmp_path: Path
) -> None:
    data = JPEG + os.urandom(300_000)
    path = tmp_path / "passport.jpg"
    path.write_bytes(data)
    store: dict[str, Any] = {}
    server.route("POST", UPLOAD, receiver(store))
    stored = await client.files.upload(path)
    assert stored == "u1/passport.jpg"
    assert store["name"] == "file"
    assert store["filename"] == "passport.jpg"
    assert store["content_type"] == "image/jpeg"
    assert store["sha256"] == hashlib.sha256(data).hexdigest()
    assert store["chunks"] > 1
    assert server.seen[0].headers["Authorization"].startswith("Bearer ")


async def test_upload_bytes_and_top_level_file_reply(
    server: FakeServer, client: kycflow.Client
) -> None:
    data = png_bytes()
    store: dict[str, Any] = {}
    server.route("POST", UPLOAD, receiver(store, {"file": "u1/x.png"}, 200))
    assert await client.files.upload(data, name="scan.png") == "u1/x.png"
    assert store["content_type"] == "image/png"
    assert store["sha256"] == hashlib.sha256(data).hexdigest()


async def test_upload_from_async_stream(server: FakeServer, client: kycflow.Client) -> None:
    data = JPEG * 50
    opened: list[int] = []
    closed: list[int] = []

    def factory(chunk_size: int) -> AsyncIterator[bytes]:
        async def gen() -> AsyncIterator[bytes]:
            opened.append(1)
            try:
                for i in range(0, len(data), 1000):
                    yield data[i : i + 1000]
            finally:
                closed.append(1)

        return gen()

    store: dict[str, Any] = {}
    server.route("POST", UPLOAD, receiver(store))
    doc = kycflow.Document.from_stream(factory, "photo.jpg", size=len(data))
    assert await client.files.upload(doc) == "u1/photo.jpg"
    assert store["sha256"] == hashlib.sha256(data).hexdigest()
    assert len(opened) == len(closed)  # validation's head read and the upload both closed


async def test_upload_custom_config(server: FakeServer, tmp_path: Path) -> None:
    path = tmp_path / "a.pdf"
    path.write_bytes(b"%PDF-1.4\n" + b"0" * 100)
    store: dict[str, Any] = {}
    server.route("POST", "/v2/my/documents", receiver(store, {"result": {"path": "d/a.pdf"}}))
    config = kycflow.UploadConfig(
        path="/v2/my/documents", field="document", extract=lambda p: p["result"]["path"]
    )
    async with make_client(server.base_url, upload=config) as c:
        assert await c.files.upload(path) == "d/a.pdf"
    assert store["name"] == "document"


async def test_upload_reply_without_path_is_protocol_error(
    server: FakeServer, client: kycflow.Client, tmp_path: Path
) -> None:
    path = tmp_path / "a.jpg"
    path.write_bytes(JPEG)
    server.route("POST", UPLOAD, receiver({}, {"data": {"nope": 1}}))
    with pytest.raises(e.ProtocolError):
        await client.files.upload(path)


async def test_upload_extractor_keyerror_mapped(server: FakeServer, tmp_path: Path) -> None:
    path = tmp_path / "a.jpg"
    path.write_bytes(JPEG)
    server.route("POST", UPLOAD, receiver({}, {"data": {}}))
    config = kycflow.UploadConfig(extract=lambda p: p["missing"])
    async with make_client(server.base_url, upload=config) as c:
        with pytest.raises(e.ProtocolError, match="KeyError"):
            await c.files.upload(path)


@pytest.mark.parametrize("case", ["missing", "empty", "oversized", "wrong_type", "mismatch"])
async def test_bad_documents_rejected_before_any_request(
    server: FakeServer, tmp_path: Path, case: str
) -> None:
    path = tmp_path / "doc.jpg"
    if case == "empty":
        path.write_bytes(b"")
    elif case == "oversized":
        path.write_bytes(JPEG + b"0" * 5000)
    elif case == "wrong_type":
        path = tmp_path / "doc.txt"
        path.write_bytes(b"hello world, plain text")
    elif case == "mismatch":
        path.write_bytes(png_bytes())
    server.route("POST", UPLOAD, receiver({}))
    async with make_client(server.base_url, max_upload_bytes=4096) as c:
        with pytest.raises(e.DocumentError):
            await c.files.upload(path)
        with pytest.raises(e.DocumentError):
            await c.files.upload(b"\xff\xd8\xff")  # bytes without a name
    assert server.seen == []


async def test_upload_413_is_status_error(
    server: FakeServer, client: kycflow.Client, tmp_path: Path
) -> None:
    path = tmp_path / "a.jpg"
    path.write_bytes(JPEG)
    server.route("POST", UPLOAD, error(413, "too large"))
    with pytest.raises(e.APIStatusError) as info:
        await client.files.upload(path)
    assert info.value.status == 413
    assert len(server.seen) == 1


async def test_upload_503_retried_with_fresh_stream(
    server: FakeServer, client: kycflow.Client, tmp_path: Path
) -> None:
    data = JPEG * 10
    path = tmp_path / "a.jpg"
    path.write_bytes(data)
    store: dict[str, Any] = {}

    async def busy(request: web.Request) -> web.StreamResponse:
        await request.read()
        return await error(503)(request)

    server.route("POST", UPLOAD, busy, receiver(store))
    assert await client.files.upload(path) == "u1/a.jpg"
    assert store["sha256"] == hashlib.sha256(data).hexdigest()
    assert len(server.seen) == 2


async def test_cancelled_upload_closes_the_file(server: FakeServer, tmp_path: Path) -> None:
    path = tmp_path / "big.jpg"
    path.write_bytes(JPEG + b"0" * 2_000_000)
    arrived = asyncio.Event()

    async def stall(request: web.Request) -> web.StreamResponse:
        arrived.set()
        await asyncio.sleep(5)
        return web.Response()

    server.route("POST", UPLOAD, stall)
    fd_dir = Path("/proc/self/fd")

    def open_handles() -> int:
        count = 0
        for fd in fd_dir.iterdir():
            try:
                if os.readlink(fd) == str(path):
                    count += 1
            except OSError:
                continue
        return count

    async with make_client(server.base_url) as c:
        task = asyncio.create_task(c.files.upload(path))
        await asyncio.wait_for(arrived.wait(), 5)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    await asyncio.sleep(0.05)
    assert open_handles() == 0


async def test_an_early_reply_closes_the_file_before_upload_returns(
    server: FakeServer, tmp_path: Path
) -> None:
    """The server refuses (413) without reading: the file is closed by the time ``upload``
    raises (or, when the refusal came while a worker thread was still opening it, as soon as
    that open returns: ``Document``'s stream closes it then)."""
    path = tmp_path / "big.jpg"
    path.write_bytes(JPEG + b"0" * 8_000_000)  # more than the socket buffers take unread
    server.route("POST", UPLOAD, error(413, "too large"))

    def open_handles() -> int:
        count = 0
        for fd in Path("/proc/self/fd").iterdir():
            try:
                count += os.readlink(fd) == str(path)
            except OSError:
                continue
        return count

    async with make_client(server.base_url, max_upload_bytes=16_000_000) as c:
        with pytest.raises(e.APIStatusError):
            await c.files.upload(path)
        for _ in range(100):  # at most 1 s, for a thread's open still under way
            if open_handles() == 0:
                break
            await asyncio.sleep(0.01)
        assert open_handles() == 0
