"""kycflow: an asyncio client and wizard orchestrator for a broker platform's KYC API.

``__all__`` below is the public face; everything else is private.
"""

from . import events
from ._document_models import ClientDocument, DocumentPage
from ._levels import PollPolicy
from ._logging import configure_logging, redact_processor
from ._version import __version__
from .auth import Auth, BearerToken, Requester, SessionAuth, sign_in
from .batch import BatchJob, BatchProgress, BatchResult, run_many
from .checkpoint import Checkpoint, CheckpointStore, MemoryCheckpointStore
from .client import Client, RequestOptions, UploadConfig
from .documents import Document
from .errors import (
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    CheckpointError,
    ConfigurationError,
    ConflictError,
    CursorStoreError,
    DocumentError,
    KycflowError,
    LevelTimeoutError,
    MissingDocumentError,
    NotFoundError,
    OutcomeUnknownError,
    PermissionDeniedError,
    ProtocolError,
    RateLimitError,
    ServerError,
    UnknownLevelError,
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
from .resources._level_wait import WaitProgress
from .runner import StepResult, WizardResult, WizardRunner
from .watch import LevelGranted, LevelWatcher

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIStatusError",
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
    "ClientDocument",
    "ConfigurationError",
    "ConflictError",
    "CursorStoreError",
    "DirectoryProvider",
    "Document",
    "DocumentError",
    "DocumentPage",
    "DocumentType",
    "FileProvider",
    "KycflowError",
    "Level",
    "LevelGranted",
    "LevelTimeoutError",
    "LevelWatcher",
    "MemoryCheckpointStore",
    "MemoryProvider",
    "MissingDocumentError",
    "NotFoundError",
    "OutcomeUnknownError",
    "PermissionDeniedError",
    "PollPolicy",
    "ProtocolError",
    "RateLimitError",
    "Reason",
    "RequestOptions",
    "Requester",
    "ServerError",
    "SessionAuth",
    "StepResult",
    "Token",
    "TokenPair",
    "UnknownLevelError",
    "UploadConfig",
    "Verification",
    "VerificationPage",
    "WaitProgress",
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
