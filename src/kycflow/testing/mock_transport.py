"""``MockTransport``: canned replies at the sending seam, for unit tests of code using kycflow.

Like ``httpx.MockTransport``: a handler maps each ``HTTPRequest`` to an ``HTTPResponse`` (or
raises a kycflow connection error to simulate a network failure). Everything above the seam
runs for real: retries, auth and its refresh, redirects, decoding and errors.
"""

from __future__ import annotations

import inspect
import json as jsonlib
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from multidict import CIMultiDict, CIMultiDictProxy

from kycflow.transport import AsyncTransport, HTTPRequest, HTTPResponse, StreamBody

__all__ = ["Handler", "MockTransport", "RecordedRequest", "reply"]

Handler = Callable[[HTTPRequest], HTTPResponse | Awaitable[HTTPResponse]]


def reply(
    status: int = 200,
    json: Any = None,
    *,
    body: bytes | None = None,
    headers: Mapping[str, str] | None = None,
) -> HTTPResponse:
    """A canned reply: ``json`` serialised (with a JSON content type), or raw ``body``."""
    merged: CIMultiDict[str] = CIMultiDict(headers or {})
    if body is None:
        body = b"" if json is None else jsonlib.dumps(json).encode()
        if json is not None:
            merged.setdefault("Content-Type", "application/json")
    return HTTPResponse(status, CIMultiDictProxy(merged), body)


class RecordedRequest:
    """A request as the transport received it, its body read (a streamed upload joined)."""

    __slots__ = ("body", "headers", "method", "url")

    def __init__(self, method: str, url: str, headers: Mapping[str, str], body: bytes) -> None:
        self.method = method
        self.url = url
        self.headers: Mapping[str, str] = CIMultiDictProxy(CIMultiDict(headers))
        self.body = body

    def json(self) -> Any:
        """The body decoded as JSON."""
        return jsonlib.loads(self.body)

    def __repr__(self) -> str:
        return f"<RecordedRequest {self.method} {self.url}>"


class MockTransport(AsyncTransport):
    """Answers every request with ``handler(request)`` (sync or async) and records them in
    ``requests``. A handler's reply gets the request's URL when it names none."""

    def __init__(self, handler: Handler) -> None:
        self._handler = handler
        self.requests: list[RecordedRequest] = []
        self.closed = False

    async def send(self, request: HTTPRequest) -> HTTPResponse:
        body = request.body
        if isinstance(body, StreamBody):
            data = b"".join([chunk async for chunk in body.chunks()])
        else:
            data = body or b""
        self.requests.append(RecordedRequest(request.method, request.url, request.headers, data))
        result = self._handler(request)
        response = await result if inspect.isawaitable(result) else result
        if not response.url:
            response = HTTPResponse(response.status, response.headers, response.body, request.url)
        return response

    async def aclose(self) -> None:
        self.closed = True
