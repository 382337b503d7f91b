"""The sandbox's upload route: ``POST /v2/my/files`` (multipart, streamed and size-capped)."""

from __future__ import annotations

import hashlib
import re
import time
import urllib.parse
from typing import Any

from aiohttp import BodyPartReader, hdrs, web

from ._gate import authenticate, inject
from ._http import Fail
from ._users import SandboxUser
from .records import UploadRecord
from .state import SandboxState

__all__ = ["FileRoutes"]

_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


class FileRoutes:
    """Handler of ``/v2/my/files``; it works on the ``SandboxState`` given."""

    def __init__(self, state: SandboxState) -> None:
        self.state = state

    async def upload(self, request: web.Request) -> web.StreamResponse:
        """Store the multipart part named ``file``; 201 with its server path."""
        user = authenticate(self.state, request)
        await inject(self.state, request, "upload", user)
        if not request.content_type.startswith("multipart/"):
            raise Fail(400, "Bad Request", "the upload must be multipart/form-data")
        try:
            reader = await request.multipart()
            part = await reader.next()
            while part is not None:
                if isinstance(part, BodyPartReader) and part.name == "file":
                    return await self._store(user, part)
                await part.release()
                part = await reader.next()
        except Fail:
            raise
        except Exception:
            # Whatever the multipart parser raises, the request was malformed.
            raise Fail(400, "Bad Request", "malformed multipart body") from None
        raise Fail(400, "Bad Request", "no part named 'file'")

    async def _store(self, user: SandboxUser, part: BodyPartReader) -> web.StreamResponse:
        state = self.state
        # aiohttp's FormData percent-quotes the filename parameter; browsers send it raw.
        filename = urllib.parse.unquote(part.filename or "")
        if not filename:
            raise Fail(400, "Bad Request", "the file part needs a filename")
        content_type = part.headers.get(hdrs.CONTENT_TYPE, "application/octet-stream")
        digest = hashlib.sha256()
        size = 0
        while chunk := await part.read_chunk(state.settings.upload_chunk_bytes):
            size += len(chunk)
            if size > state.settings.max_upload_bytes:
                raise Fail(
                    413,
                    "Payload Too Large",
                    f"the file is over {state.settings.max_upload_bytes} bytes",
                )
            digest.update(chunk)
        if size == 0:
            raise Fail(400, "Bad Request", "the file is empty")
        state.ids.upload += 1
        safe = _SAFE_NAME.sub("_", filename)[-64:] or "file"
        path = f"u{user.id}/{int(time.time())}_{state.ids.upload}_{safe}"
        user.files[path] = content_type
        state.records.upload_log.append(
            UploadRecord(
                user.email, path, filename, content_type, size, digest.hexdigest(), time.time()
            )
        )
        body: dict[str, Any] = {"file": path}
        if not state.scenario.quirks.upload_top_level_file:
            body = {"data": body}
        return web.json_response(body, status=201)
