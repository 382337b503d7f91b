"""Redirects followed by hand: target checks, method rewriting and credential stripping.

aiohttp's own redirect handling is off (``allow_redirects=False``) so that credentials never
reach another origin and a redirect to plain http on a remote host is refused. A request with a
body (sign-in, second factor, refresh, an upload, a submit: every body kycflow sends carries
credentials or documents) is never re-sent to another origin: ``RedirectRefusedError``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple
from urllib.parse import urljoin, urlsplit

from ..errors import ProtocolError, RedirectRefusedError
from .context import Call
from .seam import StreamBody
from .urls import is_loopback_host

__all__ = [
    "MAX_REDIRECTS",
    "REDIRECT_STATUSES",
    "Hop",
    "next_hop",
    "redirect_target",
    "too_many_redirects",
]

MAX_REDIRECTS = 5
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
# Headers that carry credentials (lowercase): never sent to another origin after a redirect,
# nor is any header the call's auth supplied (an ``X-Api-Key`` of a custom ``Auth``).
_CREDENTIAL_HEADERS = frozenset({"authorization", "cookie", "proxy-authorization"})


class Hop(NamedTuple):
    """One request of an attempt's redirect chain (the first is the call's own)."""

    method: str
    url: str
    body: bytes | StreamBody | None
    headers: Mapping[str, str]
    """What this request sent: never edited once sent (the next hop gets its own copy)."""


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    return parts.scheme, (parts.hostname or "").lower(), port


def _origin_text(url: str) -> str:
    scheme, host, port = _origin(url)
    host = f"[{host}]" if ":" in host else host
    return f"{scheme}://{host}" + ("" if port is None else f":{port}")


def _refuse(
    first_url: str, target: str, method: str, template: str, status: int
) -> RedirectRefusedError:
    # Origins only (scheme, host, port): never a path or query, which could carry anything.
    origin, target_origin = _origin_text(first_url), _origin_text(target)
    return RedirectRefusedError(
        f"refusing to re-send {method} {template} (its body carries credentials or documents) "
        f"from {origin} to another origin, {target_origin}",
        origin=origin,
        target_origin=target_origin,
        status=status,
        method=method,
        path=template,
    )


def redirect_target(
    current: str, location: str, method: str, template: str, *, allow_insecure_http: bool
) -> str:
    """The absolute URL a ``Location`` points to, or ``ProtocolError`` if it may not be followed."""
    try:
        target = urljoin(current, location)
        parts = urlsplit(target)
        host = parts.hostname
    except ValueError:
        raise ProtocolError(
            "the server redirected to an invalid URL", method=method, path=template
        ) from None
    if parts.scheme not in ("http", "https") or not host:
        raise ProtocolError(
            "the server redirected to a non-http(s) URL", method=method, path=template
        )
    if parts.scheme == "http" and not allow_insecure_http and not is_loopback_host(host):
        raise ProtocolError(
            f"refusing a redirect to plain http on {host}", method=method, path=template
        )
    return target


def next_hop(
    call: Call,
    hop: Hop,
    status: int,
    location: str,
    auth_names: Mapping[str, str],
    *,
    insecure: bool,
) -> Hop:
    """Where a redirect of ``hop`` (answered ``status`` with ``location``) goes next.

    The next hop's headers are a new dict (``hop.headers`` was handed to ``send``): once the
    chain leaves the call's origin, every header named in ``auth_names`` (what the call's auth
    supplied) and the credential headers are left out, names compared case-insensitively. A
    request sent with a body is never followed to another origin, whatever the status (a 303
    would drop the body, but the answer to a credentialed request would then come from an
    origin the caller never chose).
    """
    url = redirect_target(
        hop.url, location, hop.method, call.template, allow_insecure_http=insecure
    )
    cross_origin = _origin(url) != _origin(call.url)
    if cross_origin and call.body is not None:
        raise _refuse(call.url, url, call.method, call.template, status)
    method, body = hop.method, hop.body
    drop: set[str] = set()
    if status == 303 and method != "HEAD":
        method, body = "GET", None
        drop.add("content-type")
    if cross_origin:
        drop |= _CREDENTIAL_HEADERS
        drop.update(name.lower() for name in auth_names)
    headers = {k: v for k, v in hop.headers.items() if k.lower() not in drop}
    return Hop(method, url, body, headers)


def too_many_redirects(call: Call, method: str) -> ProtocolError:
    """The error of a chain longer than ``MAX_REDIRECTS`` (``method``: its last request's)."""
    return ProtocolError(f"more than {MAX_REDIRECTS} redirects", method=method, path=call.template)
