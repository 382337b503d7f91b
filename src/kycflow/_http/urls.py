"""URLs and query strings of requests, and the request id of replies: pure functions."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from datetime import datetime
from urllib.parse import quote, urlencode, urlsplit

from ..errors import ConfigurationError

__all__ = [
    "check_base_url",
    "filter_params",
    "is_loopback_host",
    "join_url",
    "path_segment",
    "request_id_of",
    "with_query",
]


def is_loopback_host(host: str | None) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1)."""
    if not host:
        return False
    name = host.strip("[]").lower().rstrip(".")
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def check_base_url(base_url: str, *, allow_insecure_http: bool) -> str:
    """Validate a base URL and return it without a trailing slash."""
    try:
        parts = urlsplit(base_url)
    except ValueError as exc:
        raise ConfigurationError(f"invalid base URL: {base_url!r}") from exc
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigurationError(f"base URL must be http(s)://host/...: {base_url!r}")
    if parts.username or parts.password:
        raise ConfigurationError("base URL must not carry credentials")
    if parts.query or parts.fragment:
        raise ConfigurationError("base URL must not carry a query or fragment")
    if parts.scheme == "http" and not allow_insecure_http and not is_loopback_host(parts.hostname):
        raise ConfigurationError(
            f"refusing plain http to {parts.hostname}: use https, or pass allow_insecure_http=True"
        )
    return base_url.rstrip("/")


def join_url(base_url: str, path: str) -> str:
    """``base_url`` (like ``https://host/api``) joined with an endpoint path (``/v2/my/...``)."""
    return base_url.rstrip("/") + "/" + path.lstrip("/")


def path_segment(value: object) -> str:
    """A value quoted for use as one path segment (``/`` and friends escaped)."""
    if isinstance(value, bool):
        raise ConfigurationError("a path parameter must be an int or a string")
    text = str(value)
    if not text:
        raise ConfigurationError("a path parameter must not be empty")
    return quote(text, safe="")


def _param_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def filter_params(filters: Mapping[str, object] | None) -> list[tuple[str, str]]:
    """``{"status": "x"}`` as ``[("filter[status]", "x")]``; a list value repeats the key."""
    if not filters:
        return []
    out: list[tuple[str, str]] = []
    for field, value in filters.items():
        key = f"filter[{field}]"
        if isinstance(value, list | tuple | set | frozenset):
            out.extend((key, _param_value(v)) for v in value)
        elif value is not None:
            out.append((key, _param_value(value)))
    return out


def request_id_of(headers: Mapping[str, str]) -> str | None:
    """The server's request id (``X-Request-Id`` or ``Request-Id``), if any."""
    for name in ("X-Request-Id", "Request-Id", "x-request-id", "request-id"):
        value = headers.get(name)
        if value:
            return value
    return None


def with_query(url: str, params: Sequence[tuple[str, str]] | None) -> str:
    """``url`` with ``params`` appended as its query (a repeated key stays repeated)."""
    if not params:
        return url
    return f"{url}{'&' if '?' in url else '?'}{urlencode(params, quote_via=quote)}"
