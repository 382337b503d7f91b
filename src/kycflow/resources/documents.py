"""The client's documents: ``list``, ``iterate``, ``get``, ``create`` and ``delete``."""

from __future__ import annotations

import builtins
from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING, Any, Unpack

from .._http.wire import filter_params, parse_model, path_segment
from ..errors import ConfigurationError, NotFoundError, ProtocolError
from ..models import ClientDocument, DocumentPage

if TYPE_CHECKING:
    from ..client import Client, RequestOptions

__all__ = ["Documents"]

LIST_PATH = "/v2/my/documents"
ITEM_TEMPLATE = "/v2/my/documents/{id}"
_SORT_ORDERS = frozenset({"asc", "desc"})


def _check_count(name: str, value: int | None, minimum: int) -> None:
    if value is not None and (
        isinstance(value, bool) or not isinstance(value, int) or value < minimum
    ):
        raise ConfigurationError(f"{name} must be an int >= {minimum}")


def _params(
    limit: int | None,
    offset: int | None,
    sort_by: str | None,
    sort_order: str | None,
    filters: Mapping[str, object] | None,
) -> builtins.list[tuple[str, str]]:
    _check_count("limit", limit, 0)
    _check_count("offset", offset, 0)
    if sort_order is not None and sort_order not in _SORT_ORDERS:
        raise ConfigurationError("sort_order must be 'asc' or 'desc'")
    params = [(k, str(v)) for k, v in (("limit", limit), ("offset", offset)) if v is not None]
    params += [(k, v) for k, v in (("sort_by", sort_by), ("sort_order", sort_order)) if v]
    return params + filter_params(filters)


def _item(payload: Any, body: bytes, method: str, path: str) -> ClientDocument:
    # Like the verification details: a list envelope, ``{"data": {...}}`` or a bare object.
    item = payload
    if isinstance(payload, dict) and "data" in payload and "id" not in payload:
        item = payload["data"]
        if isinstance(item, list):
            item = item[0] if item else None
    if item is None:
        raise NotFoundError(
            "document not found (empty reply)", status=404, method=method, path=path
        )
    return parse_model(ClientDocument, item, body=body, method=method, path=path)


class Documents:
    """The current client's documents (vendor docs: NOTES.md, "Other endpoints")."""

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
    ) -> DocumentPage:
        """One page of documents (``filters`` become ``filter[<field>]=<value>``)."""
        params = _params(limit, offset, sort_by, sort_order, filters)
        client = self._client
        response, payload = await client.request(
            "GET", LIST_PATH, options=client.call_options(options), params=params
        )
        if isinstance(payload, builtins.list):
            payload = {"total": len(payload), "data": payload}
        elif isinstance(payload, dict) and "data" in payload and payload["data"] is None:
            payload = {**payload, "data": []}
        if not isinstance(payload, dict) or "error" in payload:
            raise ProtocolError(
                "the server's reply is not a page of documents", method="GET", path=LIST_PATH
            )
        return parse_model(DocumentPage, payload, body=response.body, method="GET", path=LIST_PATH)

    async def iterate(
        self,
        *,
        page_size: int = 50,
        filters: Mapping[str, object] | None = None,
        **options: Unpack[RequestOptions],
    ) -> AsyncIterator[ClientDocument]:
        """Every document across pages; stops on an empty page or once offset >= total."""
        _check_count("page_size", page_size, 1)
        offset = 0
        while True:
            page = await self.list(limit=page_size, offset=offset, filters=filters, **options)
            for item in page.data:
                yield item
            offset += len(page.data)
            if not page.data or offset >= page.total:
                return

    async def get(
        self, document_id: int | str, **options: Unpack[RequestOptions]
    ) -> ClientDocument:
        """One document; an empty reply is ``NotFoundError``."""
        path = f"{LIST_PATH}/{path_segment(document_id)}"
        client = self._client
        response, payload = await client.request(
            "GET", path, options=client.call_options(options), template=ITEM_TEMPLATE
        )
        return _item(payload, response.body, "GET", ITEM_TEMPLATE)

    async def create(
        self, file: str, type_id: int, **options: Unpack[RequestOptions]
    ) -> ClientDocument:
        """Store a document: ``file`` is a stored path (from ``client.files.upload``)."""
        if not isinstance(file, str) or not file.strip():
            raise ConfigurationError("file must be a stored path from files.upload")
        if isinstance(type_id, bool) or not isinstance(type_id, int):
            raise ConfigurationError("type_id must be an int (a document type id)")
        client = self._client
        response, payload = await client.request(
            "POST",
            LIST_PATH,
            options=client.call_options(options),
            json={"file": file, "typeID": type_id},
        )
        return _item(payload, response.body, "POST", LIST_PATH)

    async def delete(self, document_id: int | str, **options: Unpack[RequestOptions]) -> None:
        """Delete a document (a 404 is ``NotFoundError``)."""
        path = f"{LIST_PATH}/{path_segment(document_id)}"
        client = self._client
        await client.request(
            "DELETE", path, options=client.call_options(options), template=ITEM_TEMPLATE
        )
