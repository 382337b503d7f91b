"""Re-exports of :mod:`kycflow.wizard.providers` under the public path ``kycflow.providers``."""

from .wizard.providers import (
    CallableProvider as CallableProvider,
)
from .wizard.providers import (
    DirectoryProvider as DirectoryProvider,
)
from .wizard.providers import (
    FileProvider as FileProvider,
)
from .wizard.providers import (
    MemoryProvider as MemoryProvider,
)
from .wizard.providers import (
    normalise_key as normalise_key,
)

__all__ = [
    "CallableProvider",
    "DirectoryProvider",
    "FileProvider",
    "MemoryProvider",
    "normalise_key",
]
