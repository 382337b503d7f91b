"""Verification history: ``list``, ``iterate`` and ``get``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from typing import Unpack

from .._http.options import RequestOptions
from .._http.replies import page_from_payload, verification_from_payload
from .._http.urls import path_segment
from ..models import Level, Verification, VerificationPage
from ._client import ClientLike
from ._pages import iterate_pages, page_params
from .level_wait import WaitProgress, wait_for_level
from .levels import LevelRef, PollPolicy

__all__ = ["Verifications"]

LIST_PATH = "/v2/my/verifications"
ITEM_TEMPLATE = "/v2/my/verifications/{id}"


class Verifications:
    """The current client's verification history."""

    __slots__ = ("_client",)

    def __init__(self, client: ClientLike) -> None:
        self._client = client

    async def list(
        self,
        limit: int | None = None,
        offset: int | None = None,
        sort_by: str | None = None,
        sort_order: str | None = None,
        filters: Mapping[str, object] | None = None,
        **options: Unpack[RequestOptions],
    ) -> VerificationPage:
        """One page of the history (``filters`` become ``filter[<field>]=<value>``)."""
        params = page_params(limit, offset, sort_by, sort_order, filters)
        client = self._client
        response = await client.request(
            "GET", LIST_PATH, options=client.call_options(options), params=params
        )
        payload = response.data
        return page_from_payload(payload, body=response.body, method="GET", path=LIST_PATH)

    def iterate(
        self,
        *,
        page_size: int = 50,
        sort_by: str | None = None,
        sort_order: str | None = None,
        filters: Mapping[str, object] | None = None,
        **options: Unpack[RequestOptions],
    ) -> AsyncIterator[Verification]:
        """Every verification across pages; stops on an empty page or once offset >= total."""

        def read(limit: int, offset: int) -> Awaitable[VerificationPage]:
            return self.list(
                limit, offset, sort_by=sort_by, sort_order=sort_order, filters=filters, **options
            )

        return iterate_pages(read, page_size)

    async def get(
        self, verification_id: int | str, **options: Unpack[RequestOptions]
    ) -> Verification:
        """One verification; an empty reply is ``NotFoundError``."""
        path = f"{LIST_PATH}/{path_segment(verification_id)}"
        client = self._client
        response = await client.request(
            "GET", path, options=client.call_options(options), template=ITEM_TEMPLATE
        )
        payload = response.data
        return verification_from_payload(
            payload, body=response.body, method="GET", path=ITEM_TEMPLATE
        )

    async def wait_for_level(
        self,
        level: LevelRef,
        *,
        timeout: float,  # noqa: ASYNC109 - the wait's own budget, polls included (issue 15's API)
        poll: PollPolicy | None = None,
        known_levels: Iterable[str | Level] | None = None,
        on_poll: Callable[[WaitProgress], None] | None = None,
        request_options: RequestOptions | None = None,
    ) -> Verification:
        """Poll the history until ``level`` (an id, a name or a ``Level``) is granted.

        Returns the entry that granted it (also one granted before the call). Polls back off
        per ``poll`` (``PollPolicy``) with jitter; transient errors (network, 5xx, 429, garbled
        replies) are retried until ``timeout`` seconds pass, then ``LevelTimeoutError`` says what
        was seen. ``known_levels`` makes an unknown level name an ``UnknownLevelError`` at once.
        ``request_options`` apply to each history read (each is also cut to the time left).
        See docs/watch.md.
        """

        async def read_page(limit: int, offset: int, remaining: float) -> VerificationPage:
            call: RequestOptions = {**(request_options or {})}
            call["deadline"] = min(remaining, call.get("deadline") or remaining)
            return await self.list(
                limit=limit, offset=offset, sort_by="createTime", sort_order="desc", **call
            )

        return await wait_for_level(
            read_page,
            level,
            timeout=timeout,
            poll=poll,
            known_levels=known_levels,
            on_poll=on_poll,
        )
