"""Re-exports of :mod:`kycflow.wizard.leases` under the public path ``kycflow.leases``."""

from .wizard.leases import (
    Lease as Lease,
)
from .wizard.leases import (
    LeasingStore as LeasingStore,
)
from .wizard.leases import (
    MemoryLeases as MemoryLeases,
)
from .wizard.leases import (
    OnBusy as OnBusy,
)
from .wizard.leases import (
    check_on_busy as check_on_busy,
)
from .wizard.leases import (
    current_lease as current_lease,
)
from .wizard.leases import (
    hold_lease as hold_lease,
)

__all__ = [
    "Lease",
    "LeasingStore",
    "MemoryLeases",
    "OnBusy",
    "check_on_busy",
    "current_lease",
    "hold_lease",
]
