"""What one call carries through its attempts and hops, and what it returns."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

import aiohttp

from .retry import RetryPolicy
from .seam import StreamBody
from .secrets import SecretValues

__all__ = ["Call", "CallAuth", "Decode", "Response"]

Decode = Callable[[bytes, int, str, str], Any]
"""``decode(body, status, method, template)``: a 2xx body as ``Response.data``."""


class CallAuth(Protocol):
    """What the call path asks of an auth scheme (``kycflow.Auth`` fits it): the HTTP layer
    passes ``requester`` through without knowing what it is. A scheme whose headers never
    change may also have ``fixed_headers`` (a mapping of ``SecretHeader`` values, never edited):
    they are sent as they are, with no ``headers`` call per request."""

    async def headers(self, requester: Any, /) -> Mapping[str, str]: ...

    async def on_unauthorized(self, requester: Any, sent: Mapping[str, str], /) -> bool: ...


class Call(NamedTuple):
    """One logical call: everything its attempts and redirect hops share (a named tuple:
    immutable, and built in a fraction of a frozen dataclass's time on every call)."""

    method: str
    url: str
    """Absolute, query included."""
    template: str
    """The path as logged and reported (``/v2/my/documents/{id}``): never an id."""
    headers: Mapping[str, str]
    """With the auth's ``fixed_headers`` when it has them; else each attempt adds the auth's
    headers of the moment."""
    body: bytes | StreamBody | None
    timeout: aiohttp.ClientTimeout
    deadline_at: float | None
    """``time.monotonic()`` by which the whole call ends (None: no deadline)."""
    max_retries: int
    policy: RetryPolicy
    auth: CallAuth | None = None
    requester: Any = None
    decode: Decode | None = None
    secrets: SecretValues | None = None
    """Secret values in the JSON body: scrubbed from errors that echo them."""


@dataclass(frozen=True, slots=True)
class Response:
    """A successful (2xx) reply, its body read in full (within ``max_response_bytes``)."""

    status: int
    headers: Mapping[str, str]
    body: bytes
    request_id: str | None
    url: str
    data: Any = None
    """The body as ``send``'s ``decode`` returned it (None without a ``decode``)."""
