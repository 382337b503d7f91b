"""kycflow: an asyncio client and wizard orchestrator for a broker platform's KYC API.

``__all__`` below is the public face; everything else is private. Names are imported when first
used (PEP 562 ``__getattr__``), so ``import kycflow`` costs next to nothing and a program pays
only for the parts it touches: the CLI, the sandbox and the arq integration are never imported
by it. An export is one line in ``_EXPORTS``, its name in ``__all__``, and its import in the
``TYPE_CHECKING`` block (for type checkers and editors); a test checks the three agree.
"""

from __future__ import annotations

import importlib

from ._version import __version__

TYPE_CHECKING = False  # ``typing.TYPE_CHECKING`` without importing typing (type checkers know it)
if TYPE_CHECKING:
    from typing import Any

    from . import events
    from ._document_models import ClientDocument, DocumentPage
    from ._levels import PollPolicy
    from ._logging import configure_logging, redact_processor
    from ._telemetry import configure_telemetry
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
        CursorStoreError,
        DocumentError,
        KycflowError,
        LeaseLostError,
        LevelTimeoutError,
        MissingDocumentError,
        NotFoundError,
        OutcomeUnknownError,
        PermissionDeniedError,
        ProtocolError,
        RateLimitError,
        RedirectRefusedError,
        RunInProgressError,
        ServerError,
        StepRefusedError,
        UnknownLevelError,
        UnsupportedWizardError,
        WizardDeadlineError,
        WizardError,
        WizardStalledError,
        WizardStepLimitError,
    )
    from .events import (
        Completed,
        Failed,
        FileUploaded,
        Retrying,
        StepRefused,
        StepStarted,
        StepSubmitted,
        WizardEvent,
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
    from .providers import CallableProvider, DirectoryProvider, FileProvider, MemoryProvider
    from .resources._level_wait import WaitProgress
    from .runner import StepResult, TypePolicy, WizardResult, WizardRunner
    from .watch import LevelGranted, LevelWatcher

# Public name -> the module that defines it (relative to this package).
_EXPORTS: dict[str, str] = {
    "APIConnectError": ".errors",
    "APIConnectionError": ".errors",
    "APIError": ".errors",
    "APIStatusError": ".errors",
    "APITLSError": ".errors",
    "APITimeoutError": ".errors",
    "Auth": ".auth",
    "AuthenticationError": ".errors",
    "BadRequestError": ".errors",
    "BatchJob": ".batch",
    "BatchProgress": ".batch",
    "BatchResult": ".batch",
    "BearerToken": ".auth",
    "CallableProvider": ".providers",
    "Checkpoint": ".checkpoint",
    "CheckpointError": ".errors",
    "CheckpointStore": ".checkpoint",
    "Client": ".client",
    "ClientDocument": "._document_models",
    "Completed": ".events",
    "ConfigurationError": ".errors",
    "ConflictError": ".errors",
    "CursorStoreError": ".errors",
    "DirectoryProvider": ".providers",
    "Document": ".documents",
    "DocumentError": ".errors",
    "DocumentPage": "._document_models",
    "DocumentType": ".models",
    "Failed": ".events",
    "FileProvider": ".providers",
    "FileUploaded": ".events",
    "KycflowError": ".errors",
    "LeaseLostError": ".errors",
    "Level": ".models",
    "LevelGranted": ".watch",
    "LevelTimeoutError": ".errors",
    "LevelWatcher": ".watch",
    "MemoryCheckpointStore": ".checkpoint",
    "MemoryProvider": ".providers",
    "MissingDocumentError": ".errors",
    "NotFoundError": ".errors",
    "OutcomeUnknownError": ".errors",
    "PermissionDeniedError": ".errors",
    "PollPolicy": "._levels",
    "ProtocolError": ".errors",
    "RateLimitError": ".errors",
    "Reason": ".models",
    "RedirectRefusedError": ".errors",
    "RequestOptions": ".client",
    "Requester": ".auth",
    "Retrying": ".events",
    "RunInProgressError": ".errors",
    "ServerError": ".errors",
    "SessionAuth": ".auth",
    "StepRefused": ".events",
    "StepRefusedError": ".errors",
    "StepResult": ".runner",
    "StepStarted": ".events",
    "StepSubmitted": ".events",
    "Token": ".models",
    "TokenPair": ".models",
    "TypePolicy": ".runner",
    "UnknownLevelError": ".errors",
    "UnsupportedWizardError": ".errors",
    "UploadConfig": ".client",
    "Verification": ".models",
    "VerificationPage": ".models",
    "WaitProgress": ".resources._level_wait",
    "WizardDeadlineError": ".errors",
    "WizardError": ".errors",
    "WizardEvent": ".events",
    "WizardResult": ".runner",
    "WizardRunner": ".runner",
    "WizardStalledError": ".errors",
    "WizardStep": ".models",
    "WizardStepLimitError": ".errors",
    "configure_logging": "._logging",
    "configure_telemetry": "._telemetry",
    "events": ".events",
    "redact_processor": "._logging",
    "run_many": ".batch",
    "sign_in": ".auth",
}

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
    "ClientDocument",
    "Completed",
    "ConfigurationError",
    "ConflictError",
    "CursorStoreError",
    "DirectoryProvider",
    "Document",
    "DocumentError",
    "DocumentPage",
    "DocumentType",
    "Failed",
    "FileProvider",
    "FileUploaded",
    "KycflowError",
    "LeaseLostError",
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
    "RedirectRefusedError",
    "RequestOptions",
    "Requester",
    "Retrying",
    "RunInProgressError",
    "ServerError",
    "SessionAuth",
    "StepRefused",
    "StepRefusedError",
    "StepResult",
    "StepStarted",
    "StepSubmitted",
    "Token",
    "TokenPair",
    "TypePolicy",
    "UnknownLevelError",
    "UnsupportedWizardError",
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
    "configure_telemetry",
    "events",
    "redact_processor",
    "run_many",
    "sign_in",
]


def __getattr__(name: str) -> Any:
    module_name = _EXPORTS.get(name)
    if module_name is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module = importlib.import_module(module_name, __name__)
    value = module if name == module_name.lstrip(".") else getattr(module, name)
    globals()[name] = value  # the next look-up is a plain module attribute
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
