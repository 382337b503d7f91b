"""Reading a reply's body in full, bounded by ``max_response_bytes``."""

from __future__ import annotations

import aiohttp

from ..errors import ProtocolError

__all__ = ["read_body"]

_READ_CHUNK = 64 * 1024


async def read_body(resp: aiohttp.ClientResponse, limit: int) -> bytes:
    """The whole body of ``resp``, or ``ProtocolError`` once it is over ``limit`` bytes (the
    caller names the request in it)."""
    length = resp.content_length
    if length is not None and length > limit:
        raise ProtocolError(
            f"the server's reply is {length} bytes, over max_response_bytes={limit}",
            status=resp.status,
        )
    content = resp.content
    first = await content.read(_READ_CHUNK)
    if not first:
        return b""
    if len(first) == length and "Content-Encoding" not in resp.headers:
        # A whole reply of known length (its wire length: not of a body aiohttp decompresses)
        # needs no read to learn of its end.
        return first
    buf: bytes | bytearray = first
    while True:
        if len(buf) > limit:
            raise ProtocolError(
                f"the server's reply exceeds max_response_bytes={limit}",
                status=resp.status,
            )
        chunk = await content.read(_READ_CHUNK)
        if not chunk:
            # The usual small reply is one chunk: returned as is, with no buffer to copy.
            return buf if isinstance(buf, bytes) else bytes(buf)
        if isinstance(buf, bytes):
            buf = bytearray(buf)
        buf += chunk
