"""Faults after which the server did (or will) commit: the reply is replaced after processing
(``commit_503``, ``commit_429``, ``commit_500``), or the request is answered 500/504 at once and
processed later (``late_commit``)."""

from __future__ import annotations

import asyncio
import contextlib
import math
from typing import Any

from aiohttp import web

from ._http import Abort, Fail, Reply, error_response
from .faults import Fault, FaultKind, Faults

__all__ = ["REPLY_AFTER_KEY", "apply", "is_late", "replace_reply"]

_REQUEST_KEY: Any = getattr(web, "RequestKey", None)
REPLY_AFTER_KEY: Any = (
    _REQUEST_KEY("kycflow_sandbox_reply_after", object) if _REQUEST_KEY else "kycflow_reply_after"
)
_LATE_KEY: Any = _REQUEST_KEY("kycflow_sandbox_late", bool) if _REQUEST_KEY else "kycflow_late"

_REPLIES = {
    FaultKind.COMMIT_503: (503, "Service Unavailable"),
    FaultKind.COMMIT_429: (429, "Too Many Requests"),
    FaultKind.COMMIT_500: (500, "Server error"),
}


def is_late(request: web.Request) -> bool:
    """Whether this is the delayed processing of a ``late_commit`` request (no fault again)."""
    return bool(request.get(_LATE_KEY))


async def apply(
    request: web.Request, route: str, fault: Fault, faults: Faults, tasks: set[asyncio.Task[Any]]
) -> bool:
    """Apply a commit fault (True) or leave ``fault`` to the caller (False)."""
    kind = fault.kind
    if kind in _REPLIES:
        status, message = _REPLIES[kind]
        headers = {"Retry-After": str(math.ceil(faults.retry_after))} if status != 500 else {}
        request[REPLY_AFTER_KEY] = (status, message, headers)
        return True  # processed normally; the middleware swaps the reply
    if kind is not FaultKind.LATE_COMMIT:
        return False
    status = fault.status or 500
    if route != "upload":
        await request.read()  # kept by aiohttp: the handler reads it again later
        task = asyncio.get_running_loop().create_task(_late(request, faults.late_commit_delay))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    raise Fail(status, "Server error", f"injected {status} (processing continues)")


async def _late(request: web.Request, delay: float) -> None:
    await asyncio.sleep(delay)
    request[_LATE_KEY] = True
    # A refusal (e.g. a 409: the client resent it and that was committed) is the outcome.
    with contextlib.suppress(Fail, Reply, Abort, web.HTTPException):
        await request.match_info.handler(request)


def replace_reply(request: web.Request, response: web.StreamResponse) -> web.StreamResponse:
    """The reply a commit fault puts in place of ``response`` (else ``response``)."""
    swap = request.get(REPLY_AFTER_KEY)
    if swap is None:
        return response
    status, message, headers = swap
    return error_response(status, message, f"injected {status} after processing", headers)
