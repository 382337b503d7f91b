"""The public path of `kycflow._http.flow_control`: re-exports."""

from ._http.flow_control import (
    DEFAULT_RETRY_CAPACITY as DEFAULT_RETRY_CAPACITY,
)
from ._http.flow_control import (
    DEFAULT_RETRY_COST as DEFAULT_RETRY_COST,
)
from ._http.flow_control import (
    DEFAULT_SUCCESS_REFILL as DEFAULT_SUCCESS_REFILL,
)
from ._http.flow_control import (
    DEFAULT_TIMEOUT_COST as DEFAULT_TIMEOUT_COST,
)
from ._http.flow_control import (
    PauseGate as PauseGate,
)
from ._http.flow_control import (
    RateGate as RateGate,
)
from ._http.flow_control import (
    RetryBudget as RetryBudget,
)

__all__ = [
    "DEFAULT_RETRY_CAPACITY",
    "DEFAULT_RETRY_COST",
    "DEFAULT_SUCCESS_REFILL",
    "DEFAULT_TIMEOUT_COST",
    "PauseGate",
    "RateGate",
    "RetryBudget",
]
