"""The one exception tree of kycflow. Nothing here knows about the transport.

``_api`` holds the base and the API's errors (connection, protocol, status), ``_flow`` those of
documents, checkpoints, wizard runs and level waits.
"""

from collections.abc import Mapping, Sequence
from typing import Any

from ..models import DocumentType
from ._api import (
    APIConnectError,
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    APITLSError,
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    ConflictError,
    KycflowError,
    NotFoundError,
    OutcomeUnknownError,
    PermissionDeniedError,
    ProtocolError,
    RateLimitError,
    RedirectRefusedError,
    ServerError,
    detail_text,
    status_error_class,
)
from ._flow import (
    CheckpointError,
    CursorStoreError,
    DocumentError,
    LeaseLostError,
    LevelTimeoutError,
    MissingDocumentError,
    RunInProgressError,
    StepRefusedError,
    UnknownLevelError,
    UnsupportedWizardError,
    WizardDeadlineError,
    WizardError,
    WizardStalledError,
    WizardStepLimitError,
)

__all__ = [
    "APIConnectError",
    "APIConnectionError",
    "APIError",
    "APIStatusError",
    "APITLSError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "CheckpointError",
    "ConfigurationError",
    "ConflictError",
    "CursorStoreError",
    "DocumentError",
    "KycflowError",
    "LeaseLostError",
    "LevelTimeoutError",
    "MissingDocumentError",
    "NotFoundError",
    "OutcomeUnknownError",
    "PermissionDeniedError",
    "ProtocolError",
    "RateLimitError",
    "RedirectRefusedError",
    "RunInProgressError",
    "ServerError",
    "StepRefusedError",
    "UnknownLevelError",
    "UnsupportedWizardError",
    "WizardDeadlineError",
    "WizardError",
    "WizardStalledError",
    "WizardStepLimitError",
    "detail_text",
    "status_error_class",
]

# Shown (and pickled) under the public path, as before the split; the names their annotations
# use are here too, for ``typing.get_type_hints``.
_ANNOTATION_NAMES = (Any, DocumentType, Mapping, Sequence)

for _name in __all__:
    _obj = globals()[_name]
    if isinstance(_obj, type):
        _obj.__module__ = __name__
del _name, _obj
