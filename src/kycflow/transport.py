"""The sending seam and the call path, under the public path ``kycflow.transport``.

``AsyncTransport`` is what sends one request (``HTTPRequest`` in, ``HTTPResponse`` out);
``AiohttpTransport`` is the default one. Pass any implementation as ``Client(transport=...)``:
retries, auth, redirects, flow control and decoding stay the client's.
"""

from ._http.aiohttp_transport import AiohttpTransport
from ._http.context import Response
from ._http.options import CallOptions, TransportOptions
from ._http.seam import AsyncTransport, HTTPRequest, HTTPResponse, StreamBody, Timeouts
from ._http.transport import MAX_REDIRECTS, Transport, make_timeout

__all__ = [
    "MAX_REDIRECTS",
    "AiohttpTransport",
    "AsyncTransport",
    "CallOptions",
    "HTTPRequest",
    "HTTPResponse",
    "Response",
    "StreamBody",
    "Timeouts",
    "Transport",
    "TransportOptions",
    "make_timeout",
]
