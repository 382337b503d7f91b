"""kycflow: an asyncio client and wizard orchestrator for a broker platform's KYC API.

``__all__`` below is the public face; everything else is private.
"""

from . import events
from ._logging import configure_logging, redact_processor
from ._version import __version__
from .auth import Auth, BearerToken, Requester, SessionAuth, sign_in
from .batch import BatchJob, BatchProgress, BatchResult, run_many
from .checkpoint import Checkpoint, CheckpointStore, MemoryCheckpointStore
from .client import Client, RequestOptions, UploadConfig
from .documents import Document
from .errors import (
    APIConnectError,
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    APITLSError,
    AuthenticationError,
    BadRequestError,
    CheckpointError,
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
    StepRefusedError,
    UnsupportedWizardError,
    WizardDeadlineError,
    WizardError,
    WizardStalledError,
    WizardStepLimitError,
)
from .events import WizardEvent
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
from .providers import CallableProvider, DirectoryProvider, FileProvider, MemoryProvider
from .runner import StepResult, WizardResult, WizardRunner

__all__ = [
    "APIConnectError",
    "APIConnectionError",
    "APIError",
    "APIStatusError",
    "APITLSError",
    "APITimeoutError",
    "Auth",
    "AuthenticationError",
    "BadRequestError",
    "BatchJob",
    "BatchProgress",
    "BatchResult",
    "BearerToken",
    "CallableProvider",
    "Checkpoint",
    "CheckpointError",
    "CheckpointStore",
    "Client",
    "ConfigurationError",
    "ConflictError",
    "DirectoryProvider",
    "Document",
    "DocumentError",
    "DocumentType",
    "FileProvider",
    "KycflowError",
    "Level",
    "MemoryCheckpointStore",
    "MemoryProvider",
    "MissingDocumentError",
    "NotFoundError",
    "OutcomeUnknownError",
    "PermissionDeniedError",
    "ProtocolError",
    "RateLimitError",
    "Reason",
    "RequestOptions",
    "Requester",
    "ServerError",
    "SessionAuth",
    "StepRefusedError",
    "StepResult",
    "Token",
    "TokenPair",
    "UnsupportedWizardError",
    "UploadConfig",
    "Verification",
    "VerificationPage",
    "WizardDeadlineError",
    "WizardError",
    "WizardEvent",
    "WizardResult",
    "WizardRunner",
    "WizardStalledError",
    "WizardStep",
    "WizardStepLimitError",
    "__version__",
    "configure_logging",
    "events",
    "redact_processor",
    "run_many",
    "sign_in",
]
