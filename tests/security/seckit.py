"""Helpers of the security tests: hostile loopback servers and a search for leaked secrets.

Independent of ``kycflow.testing``: each server answers every request with a handler the test
sets, and records what it received (method, path, headers, body).
"""

from __future__ import annotations

import base64
import json
import re
import traceback
import urllib.parse
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

import kycflow

Handler = Callable[[web.Request, bytes], Awaitable[web.StreamResponse]]

# Secrets with characters that JSON escapes, so an echo holds their escaped forms.
PASSWORD = 'pa"ss\\w\u00f6rd-PWLEAK-1'
CODE = "864209"
ACCESS = "acc-ACLEAK-3f9a7c"
REFRESH = "ref-RFLEAK-77d1e0"
NEW_ACCESS = "acc-NEWLEAK-aa11"
DOC_MARKER = b"DOCLEAK-5e1f-DOCLEAK"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + DOC_MARKER + bytes(range(256)) * 4

SECRETS = (PASSWORD, CODE, ACCESS, REFRESH, NEW_ACCESS)


def forms(secret: str | bytes) -> set[str]:
    """Every way a secret could be rendered: raw, repr, JSON-escaped, URL-, Base64-encoded."""
    raw = secret if isinstance(secret, bytes) else secret.encode()
    text = raw.decode("utf-8", "replace")
    found = {
        text,
        repr(text)[1:-1],
        repr(raw)[2:-1],
        json.dumps(text)[1:-1],
        json.dumps(text, ensure_ascii=False)[1:-1],
        urllib.parse.quote(text),
        urllib.parse.quote_plus(text),
    }
    marker = re.search(r"[A-Z]+LEAK", text)  # survives any escaping: plain ASCII letters
    if marker:
        found.add(marker.group())
    for shift in range(3):  # Base64 at every alignment (the middle, which does not depend on it)
        encoded = base64.b64encode(b"x" * shift + raw).decode()
        found.add(encoded[4 : len(encoded) - 4])
    return {f for f in found if len(f) >= 6}


def leaks(text: str, secrets: Iterable[str | bytes] = (*SECRETS, DOC_MARKER)) -> list[str]:
    """The secrets (named by their first characters) any form of which occurs in ``text``."""
    return [
        (s if isinstance(s, str) else s.decode())[:12]
        for s in secrets
        if any(_occurs(f, text) for f in forms(s))
    ]


def _occurs(form: str, text: str) -> bool:
    # A form of digits only (the 2FA code) counts as a word of its own: a rendered traceback is
    # full of numbers and addresses (clock readings, ports, 0x7fe0a864209f), which quote no code.
    if form.isdigit():
        return re.search(rf"(?<![0-9A-Za-z_.]){form}(?![0-9A-Za-z_])", text) is not None
    return form in text


async def failure(awaitable: Awaitable[Any]) -> BaseException:
    """What ``awaitable`` raised (an AssertionError if nothing). Caught here, so the rendered
    traceback starts in this frame, not in a test's, whose locals hold the test's own secrets."""
    try:
        await awaitable
    except BaseException as exc:
        return exc
    raise AssertionError("expected a failure")


def rendered(exc: BaseException) -> str:
    """An exception as error trackers see it: str, repr, attributes, and the whole chain's
    traceback with every frame's locals."""
    parts = []
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        current = todo.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        parts += [str(current), repr(current), repr(vars(current))]
        todo += [current.__cause__, current.__context__, getattr(current, "cause", None)]
    te = traceback.TracebackException.from_exception(exc, capture_locals=True)
    parts.append("".join(te.format()))
    return "\n".join(parts)


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Origin:
    """A loopback server; ``handler(request, body)`` answers every request."""

    handler: Handler | None = None
    seen: list[Seen] = field(default_factory=list)
    replies: list[bytes] = field(default_factory=list)
    port: int = 0
    _runner: web.AppRunner | None = None

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        return self.origin + "/api"

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        self.seen.append(Seen(request.method, request.path, dict(request.headers), body))
        assert self.handler is not None, "no handler set"
        response = await self.handler(request, body)
        if isinstance(response, web.Response) and isinstance(response.body, bytes):
            self.replies.append(response.body)
        return response

    async def start(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def received(self) -> str:
        """Everything this server received, as text (for a leak search)."""
        return "\n".join(
            f"{s.method} {s.path} {s.headers} {s.body.decode('utf-8', 'replace')}"
            for s in self.seen
        )


def json_reply(payload: Any, status: int = 200) -> web.Response:
    return web.json_response(payload, status=status)


def wizard_start_reply() -> dict[str, Any]:
    return {"code": 200, "uuid": "u-1", "data": {"uuid": "u-1"}}


def tokens_reply(access: str = NEW_ACCESS, refresh: str | None = REFRESH) -> dict[str, Any]:
    data: dict[str, Any] = {"accessToken": {"token": access, "expiresAt": "2099-01-01T00:00:00Z"}}
    if refresh is not None:
        data["refreshToken"] = {"token": refresh, "expiresAt": "2099-01-01T00:00:00Z"}
    return {"code": 202, "done": True, "data": data}


def make_client(base_url: str, **kwargs: Any) -> kycflow.Client:
    kwargs.setdefault("max_retries", 0)
    kwargs.setdefault("timeout", 5)
    return kycflow.Client(base_url, **kwargs)
