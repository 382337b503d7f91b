"""Helpers of the core tests: a tiny loopback API server (independent of kycflow.testing)."""

from __future__ import annotations

import asyncio
import base64
import json
import struct
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web
from multidict import CIMultiDictProxy, MultiDictProxy

import kycflow

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

JPEG = b"\xff\xd8\xff\xe0" + b"\x00\x10JFIF\x00" + bytes(range(256)) * 8
PNG_HEAD = b"\x89PNG\r\n\x1a\n"


def png_bytes() -> bytes:
    """A minimal valid PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)
    return (
        PNG_HEAD
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\x00\x00"))
        + chunk(b"IEND", b"")
    )


def load_fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


@dataclass
class Seen:
    """One request the server received."""

    method: str
    path: str
    query: MultiDictProxy[str]
    headers: CIMultiDictProxy[str]
    body: bytes | None = None

    def json(self) -> Any:
        assert self.body is not None
        return json.loads(self.body)


@dataclass
class FakeServer:
    """Routes ``(method, path)`` (path without the ``/api`` prefix) to handler sequences.

    Each request takes the next handler of its route; the last one repeats. Unknown routes 404.
    """

    routes: dict[tuple[str, str], list[Handler]] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)
    port: int = 0
    _runner: web.AppRunner | None = None
    _calls: dict[tuple[str, str], int] = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def route(self, method: str, path: str, *handlers: Handler) -> None:
        self.routes[(method, path)] = list(handlers)
        self._calls[(method, path)] = 0

    def requests_to(self, method: str, path: str) -> list[Seen]:
        return [s for s in self.seen if s.method == method and s.path == path]

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        path = request.path.removeprefix("/api")
        seen = Seen(request.method, path, request.query, request.headers)
        self.seen.append(seen)
        if not request.content_type.startswith("multipart/"):
            seen.body = await request.read()
        key = (request.method, path)
        handlers = self.routes.get(key)
        if not handlers:
            return web.json_response({"error": {"message": f"no route {key}"}}, status=404)
        index = min(self._calls[key], len(handlers) - 1)
        self._calls[key] += 1
        return await handlers[index](request)

    async def start(self) -> None:
        app = web.Application(client_max_size=1024**3)
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        self._runner = web.AppRunner(app, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


def reply(
    payload: Any = None,
    status: int = 200,
    headers: dict[str, str] | None = None,
    *,
    raw: bytes | None = None,
    content_type: str = "application/json",
    delay: float = 0.0,
) -> Handler:
    """A handler answering ``payload`` as JSON (or ``raw`` bytes) after ``delay`` seconds."""

    async def handler(request: web.Request) -> web.StreamResponse:
        if delay:
            await asyncio.sleep(delay)
        body = raw if raw is not None else json.dumps(payload).encode()
        all_headers = {"X-Request-Id": "req-test-1", **(headers or {})}
        return web.Response(
            body=body, status=status, headers=all_headers, content_type=content_type
        )

    return handler


def error(status: int, message: str = "boom", **headers: str) -> Handler:
    return reply({"error": {"message": message, "details": [{"issue": "x"}]}}, status, headers)


def drop() -> Handler:
    """Read the request, then close the connection without answering."""

    async def handler(request: web.Request) -> web.StreamResponse:
        await request.read()
        assert request.transport is not None
        request.transport.close()
        await asyncio.sleep(0.05)
        return web.Response()

    return handler


def envelope(
    code: int = 200, data: Any = None, *, done: bool = False, uuid: str = "wiz-1"
) -> dict[str, Any]:
    return {"code": code, "data": data, "done": done, "uuid": uuid, "workflow": "B2B\\W\\Step"}


def token_data(
    access: str, refresh: str | None, expires_at: str = "2099-01-01T00:00:00+00:00"
) -> dict[str, Any]:
    return {
        "accessToken": {
            "token": access,
            "createdAt": "2024-01-01T00:00:00+00:00",
            "expiresAt": expires_at,
        },
        "refreshToken": None
        if refresh is None
        else {"token": refresh, "createdAt": "2024-01-01T00:00:00+00:00", "expiresAt": expires_at},
    }


TOKEN = "tok-alice-SECRET-123"


def make_client(base_url: str, **kwargs: Any) -> kycflow.Client:
    kwargs.setdefault("auth", kycflow.BearerToken(TOKEN))
    kwargs.setdefault("initial_backoff", 0.01)
    kwargs.setdefault("max_backoff", 0.05)
    kwargs.setdefault("timeout", 5.0)
    return kycflow.Client(base_url, **kwargs)


def b64json(value: str) -> Any:
    return json.loads(base64.b64decode(value))


DOC_TYPE = {"id": 2, "description": "Passport", "enabled": True, "example": "", "group": {}}
