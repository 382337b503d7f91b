"""Hostile file names: not valid UTF-8, lone surrogates, header injection. Only KycflowError
escapes, and what is sent is one well-formed part."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from seckit import ACCESS, JPEG, Origin, json_reply, make_client

import kycflow
from kycflow import DocumentError


@pytest.fixture
async def api() -> AsyncIterator[Origin]:
    async def handler(request: web.Request, body: bytes) -> web.StreamResponse:
        return json_reply({"data": {"file": "u/stored"}})

    srv = Origin(handler=handler)
    await srv.start()
    yield srv
    await srv.close()


def _part_head(body: bytes) -> bytes:
    return body.split(b"\r\n\r\n", 1)[0]


async def _upload(api: Origin, document: kycflow.Document) -> str:
    async with make_client(api.base_url) as client:
        return await client.with_auth(kycflow.BearerToken(ACCESS)).files.upload(document)


BIG = JPEG + bytes(700 * 1024)  # over the inline limit: the multipart writer's own path


@pytest.mark.parametrize("data", [JPEG, BIG], ids=["inline", "sized"])
async def test_a_file_name_that_is_not_utf8_uploads_with_replacement(
    api: Origin, tmp_path: Path, data: bytes
) -> None:
    raw_name = b"passport-\xff\xfe.jpg"
    name = os.fsdecode(raw_name)  # "passport-\udcff\udcfe.jpg"
    (tmp_path / name).write_bytes(data)
    assert os.fsencode(tmp_path) + b"/" + raw_name in [
        os.path.join(os.fsencode(tmp_path), n) for n in os.listdir(os.fsencode(tmp_path))
    ]
    from_path = kycflow.Document.from_path(tmp_path / name)
    provider = kycflow.DirectoryProvider(tmp_path, mapping={2: name})
    docs = await provider.documents_for(kycflow.DocumentType(id=2, description="Passport"))
    assert docs is not None
    for document in (from_path, docs[0]):
        assert await _upload(api, document) == "u/stored"
    for seen in api.seen:
        head = _part_head(seen.body)
        # U+FFFD, percent-encoded as aiohttp quotes file names, once per invalid byte.
        assert b'filename="passport-%EF%BF%BD%EF%BF%BD.jpg"' in head
        assert seen.body.count(data) == 1


async def test_a_lone_surrogate_in_an_in_memory_name_is_replaced(api: Origin) -> None:
    assert await _upload(api, kycflow.Document.from_bytes(JPEG, "p\ud800.jpg")) == "u/stored"
    assert b'filename="p%EF%BF%BD.jpg"' in _part_head(api.seen[0].body)


async def test_a_name_the_file_system_cannot_encode_is_a_document_error(tmp_path: Path) -> None:
    provider = kycflow.DirectoryProvider(tmp_path, mapping={2: "p\ud800.jpg"})
    with pytest.raises(DocumentError):
        await provider.documents_for(kycflow.DocumentType(id=2, description="Passport"))
    with pytest.raises(DocumentError):
        kycflow.Document.from_path(tmp_path / "p\ud800.jpg")


async def test_a_name_with_quotes_and_line_breaks_cannot_inject_headers(api: Origin) -> None:
    name = 'a"b\r\nX-Injected: 1\r\n\r\n.jpg'
    assert await _upload(api, kycflow.Document.from_bytes(JPEG, name)) == "u/stored"
    body = api.seen[0].body
    assert b"X-Injected: 1" not in body
    assert body.count(b"Content-Disposition") == 1
    assert JPEG in body
