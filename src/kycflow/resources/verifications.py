"""Verification history: ``list``, ``iterate`` and ``get``."""

from __future__ import annotations

import builtins
from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING, Unpack

from .._wire import filter_params, page_from_payload, path_segment, verification_from_payload
from ..errors import ConfigurationError
from ..models import Verification, VerificationPage

if TYPE_CHECKING:
    from ..client import Client, RequestOptions

__all__ = ["Verifications"]

LIST_PATH = "/v2/my/verifications"
ITEM_TEMPLATE = "/v2/my/verifications/{id}"
_SORT_ORDERS = frozenset({"asc", "desc"})


def _list_params(
    limit: int | None,
    offset: int | None,
    sort_by: str | None,
    sort_order: str | None,
    filters: Mapping[str, object] | None,
) -> builtins.list[tuple[str, str]]:
    params: builtins.list[tuple[str, str]] = []
    for name, value in (("limit", limit), ("offset", offset)):
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ConfigurationError(f"{name} must be an int >= 0")
        params.append((name, str(value)))
    if sort_by is not None:
        params.append(("sort_by", sort_by))
    if sort_order is not None:
        if sort_order not in _SORT_ORDERS:
            raise ConfigurationError("sort_order must be 'asc' or 'desc'")
        params.append(("sort_order", sort_order))
    params.extend(filter_params(filters))
    return params


class Verifications:
    """The current client's verification history."""

    def __init__(self, client: Client) -> None:
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
        params = _list_params(limit, offset, sort_by, sort_order, filters)
        client = self._client
        response, payload = await client.request(
            "GET", LIST_PATH, options=client.call_options(options), params=params
        )
        return page_from_payload(payload, body=response.body, method="GET", path=LIST_PATH)

    async def iterate(
        self,
        *,
        page_size: int = 50,
        sort_by: str | None = None,
        sort_order: str | None = None,
        filters: Mapping[str, object] | None = None,
        **options: Unpack[RequestOptions],
    ) -> AsyncIterator[Verification]:
        """Every verification across pages; stops on an empty page or once offset >= total."""
        if isinstance(page_size, bool) or not isinstance(page_size, int) or page_size < 1:
            raise ConfigurationError("page_size must be an int >= 1")
        offset = 0
        while True:
            page = await self.list(
                limit=page_size,
                offset=offset,
                sort_by=sort_by,
                sort_order=sort_order,
                filters=filters,
                **options,
            )
            if not page.data:
                return
            for item in page.data:
                yield item
            offset += len(page.data)
            if offset >= page.total:
                return

    async def get(
        self, verification_id: int | str, **options: Unpack[RequestOptions]
    ) -> Verification:
        """One verification; an empty reply is ``NotFoundError``."""
        path = f"{LIST_PATH}/{path_segment(verification_id)}"
        client = self._client
        response, payload = await client.request(
            "GET", path, options=client.call_options(options), template=ITEM_TEMPLATE
        )
        return verification_from_payload(
            payload, body=response.body, method="GET", path=ITEM_TEMPLATE
        )
