"""The client's documents: ``list``, ``iterate``, ``get``, ``create`` and ``delete``."""

from __future__ import annotations

import builtins
from collections.abc import AsyncIterator, Awaitable, Mapping
from typing import Any, Unpack

from .._http.decoding import parse_model
from .._http.options import RequestOptions
from .._http.urls import path_segment
from ..errors import ConfigurationError, NotFoundError, ProtocolError
from ..models import ClientDocument, DocumentPage
from ._client import ClientLike
from ._pages import iterate_pages, page_params

__all__ = ["Documents"]

LIST_PATH = "/v2/my/documents"
ITEM_TEMPLATE = "/v2/my/documents/{id}"


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
    ) -> DocumentPage:
        """One page of documents (``filters`` become ``filter[<field>]=<value>``)."""
        params = page_params(limit, offset, sort_by, sort_order, filters)
        client = self._client
        response = await client.request(
            "GET", LIST_PATH, options=client.call_options(options), params=params
        )
        payload = response.data
        if isinstance(payload, builtins.list):
            payload = {"total": len(payload), "data": payload}
        elif isinstance(payload, dict) and "data" in payload and payload["data"] is None:
            payload = {**payload, "data": []}
        if not isinstance(payload, dict) or "error" in payload:
            raise ProtocolError(
                "the server's reply is not a page of documents", method="GET", path=LIST_PATH
            )
        return parse_model(DocumentPage, payload, body=response.body, method="GET", path=LIST_PATH)

    def iterate(
        self,
        *,
        page_size: int = 50,
        filters: Mapping[str, object] | None = None,
        **options: Unpack[RequestOptions],
    ) -> AsyncIterator[ClientDocument]:
        """Every document across pages; stops on an empty page or once offset >= total."""

        def read(limit: int, offset: int) -> Awaitable[DocumentPage]:
            return self.list(limit=limit, offset=offset, filters=filters, **options)

        return iterate_pages(read, page_size)

    async def get(
        self, document_id: int | str, **options: Unpack[RequestOptions]
    ) -> ClientDocument:
        """One document; an empty reply is ``NotFoundError``."""
        path = f"{LIST_PATH}/{path_segment(document_id)}"
        client = self._client
        response = await client.request(
            "GET", path, options=client.call_options(options), template=ITEM_TEMPLATE
        )
        payload = response.data
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
        response = await client.request(
            "POST",
            LIST_PATH,
            options=client.call_options(options),
            json={"file": file, "typeID": type_id},
        )
        payload = response.data
        return _item(payload, response.body, "POST", LIST_PATH)

    async def delete(self, document_id: int | str, **options: Unpack[RequestOptions]) -> None:
        """Delete a document (a 404 is ``NotFoundError``)."""
        path = f"{LIST_PATH}/{path_segment(document_id)}"
        client = self._client
        await client.request(
            "DELETE", path, options=client.call_options(options), template=ITEM_TEMPLATE
        )
