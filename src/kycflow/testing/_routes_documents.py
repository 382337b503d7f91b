"""The sandbox's documents routes: ``/v2/my/documents`` (list, get, create, delete)."""

from __future__ import annotations

import time
from typing import Any

from aiohttp import web

from ._gate import authenticate, inject
from ._http import Fail, json_body
from ._render import iso
from .state import SandboxState

__all__ = ["DocumentRoutes"]


class DocumentRoutes:
    """Handlers of ``/v2/my/documents...``; they work on the ``SandboxState`` given.

    Documents live in ``state.documents`` (email -> id -> the rendered document).
    """

    def __init__(self, state: SandboxState) -> None:
        self.state = state
        self._type_ids = {t.id for step in state.scenario.steps for t in step.types}

    def _mine(self, request: web.Request) -> dict[int, dict[str, Any]]:
        user = authenticate(self.state, request)
        return self.state.documents.setdefault(user.email, {})

    async def list(self, request: web.Request) -> web.StreamResponse:
        """``GET /documents``: the caller's documents, newest first, paged."""
        user = authenticate(self.state, request)
        await inject(self.state, request, "documents", user)
        docs = self.state.documents.get(user.email, {})
        try:
            limit = int(request.query.get("limit", "10"))
            offset = int(request.query.get("offset", "0"))
        except ValueError:
            raise Fail(400, "Bad Request", "limit and offset must be integers") from None
        if not 1 <= limit <= 1000 or offset < 0:
            raise Fail(400, "Bad Request", "limit must be 1..1000 and offset >= 0")
        ordered = sorted(docs.values(), key=lambda d: d["id"], reverse=True)
        if request.query.get("sort_order") == "asc":
            ordered.reverse()
        for key, wanted in request.query.items():
            if key.startswith("filter[") and key.endswith("]"):
                name = key[7:-1]
                ordered = [d for d in ordered if name not in d or str(d[name]) == wanted]
        return web.json_response({"total": len(ordered), "data": ordered[offset : offset + limit]})

    def _one(self, request: web.Request) -> tuple[dict[int, dict[str, Any]], int]:
        docs = self._mine(request)
        wanted = int(request.match_info["did"])
        if wanted not in docs:
            raise Fail(404, "Not Found", f"document {wanted} not found")
        return docs, wanted

    async def get(self, request: web.Request) -> web.StreamResponse:
        """``GET /documents/{id}``: one document."""
        docs, wanted = self._one(request)
        return web.json_response({"data": docs[wanted]})

    async def create(self, request: web.Request) -> web.StreamResponse:
        """``POST /documents``: ``{file, typeID}``; the file must be one of the caller's uploads."""
        user = authenticate(self.state, request)
        await inject(self.state, request, "documents", user)
        body = await json_body(request)
        path, type_id = body.get("file"), body.get("typeID")
        if not isinstance(path, str) or path not in user.files:
            raise Fail(400, "Bad Request", "file must be a path you uploaded")
        if isinstance(type_id, bool) or not isinstance(type_id, int):
            raise Fail(400, "Bad Request", "typeID must be an integer")
        if type_id not in self._type_ids:
            raise Fail(400, "Bad Request", f"unknown document type {type_id}")
        self.state.ids.document += 1
        doc_id = self.state.ids.document
        doc = {
            "id": doc_id,
            "file": path,
            "typeID": type_id,
            "status": "new",
            "createTime": iso(time.time()),
        }
        self.state.documents.setdefault(user.email, {})[doc_id] = doc
        return web.json_response({"data": doc}, status=201)

    async def delete(self, request: web.Request) -> web.StreamResponse:
        """``DELETE /documents/{id}``: 204."""
        docs, wanted = self._one(request)
        del docs[wanted]
        return web.Response(status=204)
