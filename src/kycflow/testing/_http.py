"""The sandbox's HTTP plumbing: URL prefixes, control-flow exceptions, error bodies, JSON bodies."""

from __future__ import annotations

from collections.abc import Mapping
from html import escape
from typing import Any

from aiohttp import web

__all__ = [
    "ADMIN_PREFIX",
    "API_PREFIX",
    "FAULT_KEY",
    "HTML_502",
    "LOOPBACK",
    "USER_KEY",
    "Abort",
    "Fail",
    "Reply",
    "error_response",
    "json_body",
]

API_PREFIX = "/api"
ADMIN_PREFIX = "/_sandbox"
LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})
# Typed request keys where aiohttp has them (3.14 warns about plain string keys); the plain
# strings on older versions.
_REQUEST_KEY: Any = getattr(web, "RequestKey", None)
USER_KEY: Any = _REQUEST_KEY("kycflow_sandbox_user", str) if _REQUEST_KEY else "kycflow_user"
FAULT_KEY: Any = _REQUEST_KEY("kycflow_sandbox_fault", str) if _REQUEST_KEY else "kycflow_fault"
HTML_502 = (
    "<html><head><title>502 Bad Gateway</title></head><body>"
    "<center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>"
)


class Fail(Exception):
    """Rendered by the middleware as the API's error body."""

    def __init__(
        self, status: int, message: str, issue: str | None = None, headers: Mapping[str, str] = {}
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.issue = issue or message
        self.headers = dict(headers)


class Reply(Exception):
    """Reply with a ready response (an injected fault)."""

    def __init__(self, response: web.Response) -> None:
        super().__init__("injected reply")
        self.response = response


class Abort(Exception):
    """Abort the connection without a reply."""


def error_response(
    status: int,
    message: str,
    issue: str,
    headers: Mapping[str, str] | None = None,
    shape: str = "error_object",
) -> web.Response:
    """The API's error body, ``{"error": {"message", "details": [{"issue"}]}}`` by default, or
    one of the other shapes servers send in the wild (``Quirks.error_body``)."""
    if shape == "text":
        return web.Response(
            text=f"{message}: {issue}", status=status, headers=headers, content_type="text/plain"
        )
    if shape == "html":
        html = (
            f"<html><head><title>{status} {escape(message)}</title></head><body>"
            f"<h1>{escape(message)}</h1><p>{escape(issue)}</p></body></html>"
        )
        return web.Response(text=html, status=status, headers=headers, content_type="text/html")
    body: dict[str, Any]
    if shape == "message":
        body = {"message": message, "details": [issue]}
    elif shape == "errors":
        body = {"errors": [{"message": issue, "code": message}]}
    elif shape == "problem":
        body = {
            "type": "about:blank",
            "title": message,
            "status": status,
            "detail": issue,
            "violations": [{"propertyPath": "data", "title": issue}],
        }
        return web.json_response(
            body, status=status, headers=headers, content_type="application/problem+json"
        )
    else:
        body = {"error": {"message": message, "details": [{"issue": issue}]}}
    return web.json_response(body, status=status, headers=headers)


async def json_body(request: web.Request) -> dict[str, Any]:
    """The request's JSON object body (400 when it is not valid JSON or not an object)."""
    try:
        body = await request.json()
    except (ValueError, UnicodeDecodeError):
        raise Fail(400, "Bad Request", "body is not valid JSON") from None
    if not isinstance(body, dict):
        raise Fail(400, "Bad Request", "body must be a JSON object")
    return body
