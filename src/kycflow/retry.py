"""Re-exports of :mod:`kycflow._http.retry` under the public path ``kycflow.retry``."""

from ._http.retry import (
    IDEMPOTENT_METHODS as IDEMPOTENT_METHODS,
)
from ._http.retry import (
    Action as Action,
)
from ._http.retry import (
    Decision as Decision,
)
from ._http.retry import (
    Failure as Failure,
)
from ._http.retry import (
    Outcome as Outcome,
)
from ._http.retry import (
    RetryPolicy as RetryPolicy,
)
from ._http.retry import (
    backoff as backoff,
)
from ._http.retry import (
    classify as classify,
)
from ._http.retry import (
    parse_retry_after as parse_retry_after,
)

__all__ = [
    "IDEMPOTENT_METHODS",
    "Action",
    "Decision",
    "Failure",
    "Outcome",
    "RetryPolicy",
    "backoff",
    "classify",
    "parse_retry_after",
]
