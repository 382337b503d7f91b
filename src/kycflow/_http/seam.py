"""The sending seam: one request out, one status/headers/bounded body back.

Everything above it (retries, auth and its refresh on 401, redirects and their origin checks,
flow control, decoding) is the same whatever sends the bytes. ``kycflow.transport`` exports
these names; ``AiohttpTransport`` is the default implementation and
``kycflow.testing.MockTransport`` a canned-reply fake for unit tests.
"""

from __future__ import annotations

import abc
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from multidict import CIMultiDict, CIMultiDictProxy

__all__ = ["AsyncTransport", "HTTPRequest", "HTTPResponse", "StreamBody", "Timeouts"]


class StreamBody(abc.ABC):
    """A request body written in chunks (an upload), so that it never sits whole in memory.

    ``chunks()`` opens a fresh iteration each time it is called (a retry or a redirect sends
    the body again) and releases what it opened when the iteration ends or is closed.
    """

    __slots__ = ()

    content_type: str | None = None
    """Sent as the request's ``Content-Type`` (by the call path, above the seam)."""

    @property
    @abc.abstractmethod
    def length(self) -> int | None:
        """The exact byte count (sent as ``Content-Length``); None for chunked framing."""

    @abc.abstractmethod
    def chunks(self) -> AsyncIterator[bytes]:
        """The body's bytes, in order."""

    def whole(self) -> bytes | None:
        """The body as one buffer, built only now, when it is small and in memory (None: send
        ``chunks()``). A transport may use it to write the body at once."""
        return None


@dataclass(frozen=True, slots=True)
class Timeouts:
    """One request's time limits in seconds (None: no limit of that kind)."""

    total: float | None = None
    """The whole request, from asking for a connection to the last byte of the reply."""
    connect: float | None = None
    """The TCP/TLS connect itself (not the wait for a free pooled connection)."""
    read: float | None = None
    """The longest pause between two reads of the reply."""
    pool: float | None = None
    """Waiting for a pooled connection plus connecting (None: bounded by ``total`` only)."""


@dataclass(slots=True)
class HTTPRequest:
    """One request as the seam sends it: redirects are not followed below the seam."""

    method: str
    url: str
    """Absolute, query included."""
    headers: Mapping[str, str]
    """Read-only: the same mapping may be shared by many requests."""
    body: bytes | StreamBody | None = field(default=None, repr=False)
    timeout: Timeouts | None = None
    """Connect/read/total limits of this request (None: the transport's own)."""
    max_body: int = 2**63
    """Read at most this many reply bytes: a longer reply raises ``ProtocolError``."""


@dataclass(slots=True)
class HTTPResponse:
    """One reply: status, case-insensitive headers, the body read in full (within the bound).

    A redirect's body (a 3xx with ``Location``) need not be read: ``b""`` is fine.
    """

    status: int
    headers: Mapping[str, str] = field(repr=False)
    body: bytes = field(repr=False)
    """Not in the repr: a reply may echo the request's secrets."""
    url: str = ""
    """The URL that answered (empty: the request's)."""

    def __post_init__(self) -> None:
        # A custom transport may hand back a plain dict (``dict(httpx_response.headers)`` has
        # lowercase keys): ``Location``, ``Retry-After``, ``Content-Type`` are then looked up
        # case-insensitively all the same.
        headers = self.headers
        if not isinstance(headers, CIMultiDictProxy | CIMultiDict):
            self.headers = CIMultiDictProxy(CIMultiDict(headers))


class AsyncTransport(abc.ABC):
    """What sends a request: implement ``send`` (and ``aclose`` if it holds resources).

    ``send`` raises only kycflow errors for failures: ``APIConnectError`` when the request
    provably never left (refused connection, DNS), ``APITimeoutError(connecting=True)`` for a
    connect timeout, ``APITLSError`` for a failed handshake, ``APITimeoutError`` for a reply
    that timed out, ``APIConnectionError`` for a connection broken after sending, and
    ``ProtocolError`` for a reply over ``request.max_body``. Any other exception (a bug of the
    transport, a library's own error type) is taken as a connection broken after sending: an
    ``APIConnectionError`` naming only its type, so a submit becomes ``OutcomeUnknownError``
    and a read is retried as the policy says.
    """

    default_headers: Mapping[str, str] = MappingProxyType({})
    """Headers this transport adds to every request itself (a session's defaults): the client
    leaves them out of ``HTTPRequest.headers``."""

    @abc.abstractmethod
    async def send(self, request: HTTPRequest) -> HTTPResponse:
        """Send ``request`` once and return the reply (whatever its status)."""

    async def aclose(self) -> None:
        """Release what this transport created (never what its caller passed in)."""
        return None  # an optional hook: by default nothing to release
