"""What every API route does first: who is calling (bearer token), and which fault to inject."""

from __future__ import annotations

import asyncio
import math
import time

from aiohttp import hdrs, web

from . import _commit_faults as commit_faults
from ._http import FAULT_KEY, HTML_502, USER_KEY, Abort, Fail, Reply
from ._users import SandboxUser
from .faults import FaultKind
from .state import SandboxState

__all__ = ["authenticate", "inject"]


def authenticate(state: SandboxState, request: web.Request) -> SandboxUser:
    """The caller, by its bearer access token (401 when missing, unknown or expired)."""
    header = request.headers.get(hdrs.AUTHORIZATION, "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Fail(401, "Unauthorized", "missing bearer token")
    user = state.by_access.get(token.strip())
    if user is None:
        raise Fail(401, "Unauthorized", "invalid access token")
    if time.time() >= user.access_expires:
        raise Fail(401, "Unauthorized", "access token expired")
    request[USER_KEY] = user.email
    state.settle_review(user, time.time())
    return user


async def inject(
    state: SandboxState, request: web.Request, route: str, user: SandboxUser | str
) -> None:
    """Decide and apply this request's fault; raises to reply without processing."""
    if commit_faults.is_late(request):
        return
    if isinstance(user, SandboxUser):
        key, n = user.email, user.next_index(route)
    else:
        key, n = user, state.next_count(route, user)
    faults = state.faults
    fault = faults.decide(route, key, n)
    if fault is None:
        return
    request[FAULT_KEY] = kind = fault.kind
    if await commit_faults.apply(request, route, fault, faults, state.late_tasks):
        return
    if kind is FaultKind.SERVER_ERROR:
        status = fault.status or 500
        raise Fail(status, "Server error", f"injected {status}")
    if kind is FaultKind.RATE_LIMIT:
        retry_after = str(math.ceil(faults.retry_after))
        raise Fail(429, "Too Many Requests", "rate limited", {"Retry-After": retry_after})
    if kind is FaultKind.RESET_BEFORE:
        raise Abort
    if kind is FaultKind.HTML_ERROR:
        raise Reply(web.Response(status=502, text=HTML_502, content_type="text/html"))
    if kind is FaultKind.SLOW:
        if route != "upload":
            # Take the body first: a client that gives up during the delay still had its
            # request delivered, so it is processed as the docs promise. (An upload keeps
            # streaming through the delay, which is what slow-upload tests rely on.)
            await request.read()
        await asyncio.sleep(faults.slow_delay)
