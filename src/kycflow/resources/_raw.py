"""``client.with_raw_response``: an endpoint's reply with its request id, status and headers."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from .._http.context import Response
from ..errors import ProtocolError

__all__ = ["RAW_REPLIES", "RawResponse", "RawResponses", "recorded"]

T = TypeVar("T")

RAW_REPLIES: ContextVar[list[Response] | None] = ContextVar("kycflow_raw_replies", default=None)
"""Set while a raw call runs: the client appends each 2xx reply of the call to it."""


async def recorded(sending: Awaitable[Response]) -> Response:
    """``sending``'s reply, also kept for ``with_raw_response``."""
    response = await sending
    replies = RAW_REPLIES.get()
    if replies is not None:
        replies.append(response)
    return response


@dataclass(frozen=True, slots=True, repr=False)
class RawResponse(Generic[T]):
    """One endpoint call's last HTTP reply and its parsed result (``parse()``)."""

    http: Response
    parsed: T

    def __repr__(self) -> str:
        # Never headers or body: a reply may echo the request's credentials.
        http = self.http
        return (
            f"RawResponse(status_code={http.status}, url={http.url!r}, "
            f"request_id={http.request_id!r})"
        )

    @property
    def status_code(self) -> int:
        """The reply's HTTP status."""
        return self.http.status

    @property
    def headers(self) -> Mapping[str, str]:
        """The reply's headers (case-insensitive)."""
        return self.http.headers

    @property
    def request_id(self) -> str | None:
        """The server's request id (``X-Request-Id`` or ``Request-Id``), for support tickets."""
        return self.http.request_id

    @property
    def url(self) -> str:
        """The URL that answered."""
        return self.http.url

    def parse(self) -> T:
        """The endpoint's result, as the plain call returns it."""
        return self.parsed


# Methods that make many requests (or none): no single reply to return.
_NOT_ONE_CALL = frozenset({"iterate", "wait_for_level", "validate"})


class _RawGroup:
    """An endpoint group whose coroutine methods return a ``RawResponse``."""

    __slots__ = ("_group",)

    def __init__(self, group: object) -> None:
        self._group = group

    def __getattr__(self, name: str) -> Callable[..., Awaitable[RawResponse[Any]]]:
        method = getattr(self._group, name)
        if name.startswith("_") or name in _NOT_ONE_CALL or not callable(method):
            raise AttributeError(f"{name} has no raw response (it makes many requests, or none)")

        @functools.wraps(method)
        async def raw(*args: Any, **kwargs: Any) -> RawResponse[Any]:
            replies: list[Response] = []
            token = RAW_REPLIES.set(replies)
            try:
                parsed = await method(*args, **kwargs)
            finally:
                RAW_REPLIES.reset(token)
            if not replies:  # an endpoint that answered without a reply of its own
                raise ProtocolError(f"{name} returned without an HTTP reply to show")
            return RawResponse(replies[-1], parsed)

        return raw


class RawResponses:
    """``client.with_raw_response``: the same endpoint groups, returning ``RawResponse``s
    (``await client.with_raw_response.wizard.start()``)."""

    __slots__ = ("documents", "files", "verifications", "wizard")

    def __init__(self, verifications: object, wizard: object, files: object, documents: object):
        self.verifications = _RawGroup(verifications)
        self.wizard = _RawGroup(wizard)
        self.files = _RawGroup(files)
        self.documents = _RawGroup(documents)
