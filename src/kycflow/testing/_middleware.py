"""The sandbox's middleware: request ids, error bodies, reply-mangling faults, request records."""

from __future__ import annotations

import time
from collections.abc import Callable

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from ._commit_faults import replace_reply
from ._http import FAULT_KEY, LOOPBACK, USER_KEY, Abort, Fail, Reply, error_response
from .faults import FaultKind
from .records import Records, RequestRecord

__all__ = ["make_middleware"]

# aiohttp route names must be identifiers; "2fa" is not.
_ROUTE_ALIASES = {"second_factor": "2fa", "submit_slash": "submit"}


def make_middleware(
    records: Records, error_shape: Callable[[], str] = lambda: "error_object"
) -> Middleware:
    """The middleware that turns handler outcomes into replies and records every API request.
    ``error_shape()`` names the error bodies' shape (the scenario's ``error_body``)."""
    next_request = 0

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        nonlocal next_request
        next_request += 1
        request_id = f"sbx-{next_request:08x}"
        name = request.match_info.route.name
        route = _ROUTE_ALIASES.get(name or "") or name
        is_admin = route is not None and route.startswith("admin")
        if is_admin and request.remote not in LOOPBACK:
            return error_response(
                403, "admin API only for loopback", "forbidden", {"X-Request-Id": request_id}
            )
        response = await _outcome(request, handler, request_id, error_shape)
        fault = request.get(FAULT_KEY)
        response = _mangle(request, response, fault)
        status: int | None = None
        if response is None:
            if request.transport is not None:
                request.transport.abort()
            response = web.Response(status=500)
        else:
            response.headers["X-Request-Id"] = request_id
            status = response.status
        if not is_admin:
            records.add_request(
                RequestRecord(
                    method=request.method,
                    path=request.path,
                    route=route,
                    user=request.get(USER_KEY),
                    status=status,
                    fault=None if fault is None else str(fault),
                    time=time.time(),
                    request_id=request_id,
                )
            )
        return response

    return middleware


async def _outcome(
    request: web.Request, handler: Handler, request_id: str, error_shape: Callable[[], str]
) -> web.StreamResponse | None:
    """The handler's reply, its refusal rendered as an error body, or None (abort)."""
    try:
        return await handler(request)
    except Fail as fail:
        return error_response(fail.status, fail.message, fail.issue, fail.headers, error_shape())
    except Reply as reply:
        return reply.response
    except Abort:
        return None
    except web.HTTPException as exc:
        if exc.status < 400:
            exc.headers["X-Request-Id"] = request_id
            raise
        return error_response(exc.status, exc.reason, exc.reason, None, error_shape())


def _mangle(
    request: web.Request, response: web.StreamResponse | None, fault: object
) -> web.StreamResponse | None:
    """The reply as the injected fault leaves it: swapped, cut off (None) or truncated."""
    if response is None:
        return None
    response = replace_reply(request, response)
    if fault == FaultKind.RESET_AFTER:
        return None
    if fault == FaultKind.MALFORMED_JSON and isinstance(response, web.Response):
        body = response.body if isinstance(response.body, bytes) else b"{}"
        return web.Response(
            body=body[: max(1, len(body) // 2)],
            status=response.status,
            content_type="application/json",
        )
    return response
