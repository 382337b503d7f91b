"""The public path of `kycflow._http.coordination`: re-exports."""

from ._http.coordination import (
    LocalCoordinator as LocalCoordinator,
)
from ._http.coordination import (
    RequestCoordinator as RequestCoordinator,
)

__all__ = [
    "LocalCoordinator",
    "RequestCoordinator",
]
