"""The one scripted fake server of the client's tests: a real aiohttp.web server on 127.0.0.1.

Independent of ``kycflow.testing`` (the Sandbox is the product under test elsewhere): a test
scripts a list of handlers per ``(method, path)`` (path without the ``/api`` prefix); each
request takes the next one and the last repeats. Unrouted requests get ``fallback``, or a 404.
Every request is recorded (``seen``) before its handler runs. Faults are handlers too:
``error``, ``drop`` (close the connection without a reply), ``reply(delay=...)``, ``chunked``.

``async with FakeServer() as server`` serves on the test's loop; ``start_in_thread`` serves from
a thread of its own, for synchronous tests (hypothesis) that run one event loop per example.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Self

from aiohttp import web
from multidict import CIMultiDictProxy, MultiMapping

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
REQUEST_ID = "req-test-1"


@dataclass
class Seen:
    """One request the server received (the body is not read for multipart requests)."""

    method: str
    path: str
    query: MultiMapping[str]
    headers: CIMultiDictProxy[str]
    body: bytes | None = None

    def json(self) -> Any:
        assert self.body is not None
        return json.loads(self.body)


@dataclass
class FakeServer:
    """Routes ``(method, path)`` to handler sequences; records every request in ``seen``."""

    routes: dict[tuple[str, str], list[Handler]] = field(default_factory=dict)
    fallback: Handler | None = None
    seen: list[Seen] = field(default_factory=list)
    port: int = 0
    _runner: web.AppRunner | None = None
    _calls: dict[tuple[str, str], int] = field(default_factory=dict)
    _loop: asyncio.AbstractEventLoop | None = None
    _thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def hits(self) -> int:
        return len(self.seen)

    def route(self, method: str, path: str, *handlers: Handler) -> None:
        """Answer ``method path`` with ``handlers`` in turn (the last one repeats)."""
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
            if self.fallback is not None:
                return await self.fallback(request)
            return web.json_response({"error": {"message": f"no route {key}"}}, status=404)
        index = min(self._calls[key], len(handlers) - 1)
        self._calls[key] += 1
        return await handlers[index](request)

    async def start(self) -> None:
        app = web.Application(client_max_size=1024**3)
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.port = self._runner.addresses[0][1]

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def start_in_thread(self) -> None:
        """Serve from an event loop in a thread of its own (until ``stop_thread``)."""
        ready = threading.Event()

        def main() -> None:
            loop = self._loop = asyncio.new_event_loop()
            loop.run_until_complete(self.start())
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self.close())
            loop.close()

        self._thread = threading.Thread(target=main, name="fake-server", daemon=True)
        self._thread.start()
        assert ready.wait(10), "the fake server did not start"

    def stop_thread(self) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)


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
        all_headers = {"X-Request-Id": REQUEST_ID, **(headers or {})}
        return web.Response(
            body=body, status=status, headers=all_headers, content_type=content_type
        )

    return handler


def error(status: int, message: str = "boom", **headers: str) -> Handler:
    """The API's error envelope with ``status``."""
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


def chunked(payload: Any, chunk_size: int = 10_000) -> Handler:
    """Answer ``payload`` as JSON in chunked transfer encoding, ``chunk_size`` bytes a write."""

    async def handler(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"X-Request-Id": REQUEST_ID})
        resp.enable_chunked_encoding()
        resp.content_type = "application/json"
        await resp.prepare(request)
        raw = json.dumps(payload).encode()
        for start in range(0, len(raw), chunk_size):
            await resp.write(raw[start : start + chunk_size])
            await asyncio.sleep(0)
        await resp.write_eof()
        return resp

    return handler
