"""kycflow: an asyncio client and wizard orchestrator for a broker platform's KYC API.

``__all__`` below is the public face; everything else is private.
"""

from ._version import __version__
from .documents import Document
from .errors import (
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    ConflictError,
    DocumentError,
    KycflowError,
    MissingDocumentError,
    NotFoundError,
    OutcomeUnknownError,
    PermissionDeniedError,
    ProtocolError,
    RateLimitError,
    ServerError,
    WizardDeadlineError,
    WizardError,
    WizardStalledError,
    WizardStepLimitError,
)
from .models import (
    DocumentType,
    Level,
    Reason,
    Token,
    TokenPair,
    Verification,
    VerificationPage,
    WizardStep,
)

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "ConfigurationError",
    "ConflictError",
    "Document",
    "DocumentError",
    "DocumentType",
    "KycflowError",
    "Level",
    "MissingDocumentError",
    "NotFoundError",
    "OutcomeUnknownError",
    "PermissionDeniedError",
    "ProtocolError",
    "RateLimitError",
    "Reason",
    "ServerError",
    "Token",
    "TokenPair",
    "Verification",
    "VerificationPage",
    "WizardDeadlineError",
    "WizardError",
    "WizardStalledError",
    "WizardStep",
    "WizardStepLimitError",
    "__version__",
]
