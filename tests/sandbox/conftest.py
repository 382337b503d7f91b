"""Fixtures of the sandbox's own tests: a raw aiohttp client, never the kycflow client."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import pytest

from kycflow.testing import Sandbox, SandboxUser

JPEG = b"\xff\xd8\xff\xe0" + b"j" * 2000
PDF = b"%PDF-1.4\n" + b"p" * 3000


class Api:
    """A user's raw view of a sandbox: status, decoded JSON body (or text) and headers."""

    def __init__(self, http: aiohttp.ClientSession, sb: Sandbox, user: SandboxUser | None):
        self.http = http
        self.sb = sb
        self.user = user

    def headers(self) -> dict[str, str]:
        return {} if self.user is None else {"Authorization": f"Bearer {self.user.access_token}"}

    async def _reply(self, resp: aiohttp.ClientResponse) -> tuple[int, Any, Any]:
        text = await resp.text()
        try:
            body: Any = await resp.json(content_type=None) if text else None
        except ValueError:
            body = text
        return resp.status, body, resp.headers

    async def get(self, path: str, **params: Any) -> tuple[int, Any, Any]:
        async with self.http.get(self.sb.url(path), params=params, headers=self.headers()) as r:
            return await self._reply(r)

    async def post(self, path: str, body: Any) -> tuple[int, Any, Any]:
        async with self.http.post(self.sb.url(path), json=body, headers=self.headers()) as r:
            return await self._reply(r)

    async def upload(
        self, data: bytes = JPEG, name: str = "doc.jpg", ctype: str = "image/jpeg"
    ) -> tuple[int, Any, Any]:
        form = aiohttp.FormData()
        form.add_field("file", data, filename=name, content_type=ctype)
        async with self.http.post(
            self.sb.url("/v2/my/files"), data=form, headers=self.headers()
        ) as r:
            return await self._reply(r)

    async def submit(self, uuid: str, type_id: int, files: list[str]) -> tuple[int, Any, Any]:
        body = {"data": {"documents": {"type": type_id, "files": files}, "uuid": uuid}}
        return await self.post("/v2/my/verifications", body)

    async def stored(
        self, data: bytes = JPEG, name: str = "doc.jpg", ctype: str = "image/jpeg"
    ) -> str:
        status, body, _ = await self.upload(data, name, ctype)
        assert status == 201, body
        path = body["data"]["file"]
        assert isinstance(path, str)
        return path

    async def complete(self) -> str:
        """Drive the default scenario to the end; the procedure's uuid."""
        status, step, _ = await self.get("/v2/my/verifications/wizard")
        assert status == 200
        assert step["code"] == 200
        uuid = step["uuid"]
        for type_id, data, ctype in (
            (2, JPEG, "image/jpeg"),
            (3, JPEG, "image/jpeg"),
            (4, PDF, "application/pdf"),
        ):
            path = await self.stored(data, "f", ctype)
            status, step, _ = await self.submit(uuid, type_id, [path])
            assert status == 200, step
        assert step["code"] == 202
        return str(uuid)


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15)) as session:
        yield session


@pytest.fixture
async def sb() -> AsyncIterator[Sandbox]:
    async with Sandbox() as sandbox:
        yield sandbox


@pytest.fixture
def api(http: aiohttp.ClientSession) -> Callable[[Sandbox, SandboxUser | None], Api]:
    return lambda sandbox, user: Api(http, sandbox, user)
