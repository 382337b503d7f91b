"""Re-exports of :mod:`kycflow._http.transport` under the public path ``kycflow.transport``."""

from ._http.transport import (
    MAX_REDIRECTS as MAX_REDIRECTS,
)
from ._http.transport import (
    BodyFactory as BodyFactory,
)
from ._http.transport import (
    CallOptions as CallOptions,
)
from ._http.transport import (
    Response as Response,
)
from ._http.transport import (
    Transport as Transport,
)
from ._http.transport import (
    make_timeout as make_timeout,
)

__all__ = [
    "MAX_REDIRECTS",
    "BodyFactory",
    "CallOptions",
    "Response",
    "Transport",
    "make_timeout",
]
