"""``client.documents``: list, iterate, get, create and delete, on the sandbox and odd servers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

import kycflow
from kycflow.testing import Sandbox

JPEG = b"\xff\xd8\xff\xe0" + b"\x00\x10JFIF\x00" + bytes(range(256)) * 8


async def test_documents_round_trip_on_the_sandbox() -> None:
    async with Sandbox() as sb:
        alice, bob = sb.create_users(2)
        async with kycflow.Client(sb.base_url) as client:
            mine = client.with_auth(kycflow.BearerToken(alice.access_token))
            theirs = client.with_auth(kycflow.BearerToken(bob.access_token))
            paths = [await mine.files.upload(JPEG, name=f"p{i}.jpg") for i in range(3)]
            created = [await mine.documents.create(p, 2) for p in paths]
            assert [d.file for d in created] == paths
            assert all(d.type_id == 2 and d.create_time is not None for d in created)
            page = await mine.documents.list(limit=2)
            assert page.total == 3
            assert [d.id for d in page.data] == [created[2].id, created[1].id]
            every = [d.id async for d in mine.documents.iterate(page_size=2)]
            assert sorted(every) == sorted(d.id for d in created)
            got = await mine.documents.get(created[0].id)
            assert got == created[0]
            with pytest.raises(kycflow.NotFoundError):
                await theirs.documents.get(created[0].id)  # another user's document
            assert (await theirs.documents.list()).total == 0
            await mine.documents.delete(created[0].id)
            with pytest.raises(kycflow.NotFoundError):
                await mine.documents.get(created[0].id)
            assert (await mine.documents.list()).total == 2
            with pytest.raises(kycflow.BadRequestError):
                await mine.documents.create("not/my/upload.jpg", 2)
            with pytest.raises(kycflow.BadRequestError):
                await mine.documents.create(paths[1], 999)
        assert [r.method for r in sb.requests("document_delete")] == ["DELETE"]


async def test_bad_input_is_refused_before_any_request() -> None:
    async with Sandbox() as sb, kycflow.Client(sb.base_url) as client:
        with pytest.raises(kycflow.ConfigurationError):
            await client.documents.create("", 2)
        with pytest.raises(kycflow.ConfigurationError):
            await client.documents.create("a/b.jpg", True)
        with pytest.raises(kycflow.ConfigurationError):
            await client.documents.list(limit=-1)
        with pytest.raises(kycflow.ConfigurationError):
            await client.documents.list(sort_order="up")
        with pytest.raises(kycflow.ConfigurationError):
            _ = [d async for d in client.documents.iterate(page_size=0)]
        assert sb.requests() == []


@pytest.fixture
async def odd_server() -> AsyncIterator[tuple[str, dict[str, Any]]]:
    replies: dict[str, Any] = {}
    seen: dict[str, Any] = {}

    async def handle(request: web.Request) -> web.StreamResponse:
        seen["query"] = dict(request.query)
        if request.can_read_body:
            seen["body"] = await request.json()
        return web.json_response(replies[request.method])

    app = web.Application()
    app.router.add_route("*", "/api/v2/my/documents", handle)
    app.router.add_route("*", "/api/v2/my/documents/{id}", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    replies["_seen"] = seen
    yield f"http://127.0.0.1:{port}/api", replies
    await runner.cleanup()


async def test_reply_shapes_of_other_servers(odd_server: tuple[str, dict[str, Any]]) -> None:
    base_url, replies = odd_server
    seen = replies["_seen"]
    auth = kycflow.BearerToken("t")
    async with kycflow.Client(base_url, auth=auth, max_retries=0) as client:
        replies["GET"] = [{"id": 1, "path": "x/1.pdf", "type": {"id": 4, "name": "PoA"}}]
        page = await client.documents.list(filters={"typeID": 4})
        assert page.total == 1
        assert page.data[0].file == "x/1.pdf"
        assert page.data[0].type_id == 4
        assert seen["query"] == {"filter[typeID]": "4"}
        replies["GET"] = {"total": 1, "data": [{"id": 7, "typeID": "2", "status": 3}]}
        doc = await client.documents.get(7)
        assert (doc.id, doc.type_id, doc.status) == (7, 2, "3")
        replies["POST"] = {"id": 8, "file": "y/2.jpg", "typeID": 2}
        made = await client.documents.create("y/2.jpg", 2)
        assert made.id == 8
        assert seen["body"] == {"file": "y/2.jpg", "typeID": 2}
        replies["GET"] = {"error": {"message": "nope"}}
        with pytest.raises(kycflow.ProtocolError):
            await client.documents.list()
        replies["GET"] = {"total": 0, "data": []}
        with pytest.raises(kycflow.NotFoundError):
            await client.documents.get(9)
