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
    from ._logging import configure_logging, redact_processor
    from ._telemetry import configure_telemetry
    from .auth import Auth, BearerToken, Requester, SessionAuth, sign_in
    from .batch import BatchJob, BatchProgress, BatchResult, run_many
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
    from .models import (
        ClientDocument,
        DocumentPage,
        DocumentType,
        Level,
        Reason,
        Token,
        TokenPair,
        Verification,
        VerificationPage,
        WizardStep,
    )
    from .resources.level_wait import WaitProgress
    from .resources.levels import PollPolicy
    from .watch import LevelGranted, LevelWatcher
    from .wizard.checkpoint import Checkpoint, CheckpointStore, MemoryCheckpointStore
    from .wizard.events import (
        Completed,
        Failed,
        FileUploaded,
        Retrying,
        StepRefused,
        StepStarted,
        StepSubmitted,
        WizardEvent,
    )
    from .wizard.providers import CallableProvider, DirectoryProvider, FileProvider, MemoryProvider
    from .wizard.runner import StepResult, TypePolicy, WizardResult, WizardRunner

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
    "CallableProvider": ".wizard.providers",
    "Checkpoint": ".wizard.checkpoint",
    "CheckpointError": ".errors",
    "CheckpointStore": ".wizard.checkpoint",
    "Client": ".client",
    "ClientDocument": ".models",
    "Completed": ".wizard.events",
    "ConfigurationError": ".errors",
    "ConflictError": ".errors",
    "CursorStoreError": ".errors",
    "DirectoryProvider": ".wizard.providers",
    "Document": ".documents",
    "DocumentError": ".errors",
    "DocumentPage": ".models",
    "DocumentType": ".models",
    "Failed": ".wizard.events",
    "FileProvider": ".wizard.providers",
    "FileUploaded": ".wizard.events",
    "KycflowError": ".errors",
    "LeaseLostError": ".errors",
    "Level": ".models",
    "LevelGranted": ".watch",
    "LevelTimeoutError": ".errors",
    "LevelWatcher": ".watch",
    "MemoryCheckpointStore": ".wizard.checkpoint",
    "MemoryProvider": ".wizard.providers",
    "MissingDocumentError": ".errors",
    "NotFoundError": ".errors",
    "OutcomeUnknownError": ".errors",
    "PermissionDeniedError": ".errors",
    "PollPolicy": ".resources.levels",
    "ProtocolError": ".errors",
    "RateLimitError": ".errors",
    "Reason": ".models",
    "RedirectRefusedError": ".errors",
    "RequestOptions": ".client",
    "Requester": ".auth",
    "Retrying": ".wizard.events",
    "RunInProgressError": ".errors",
    "ServerError": ".errors",
    "SessionAuth": ".auth",
    "StepRefused": ".wizard.events",
    "StepRefusedError": ".errors",
    "StepResult": ".wizard.runner",
    "StepStarted": ".wizard.events",
    "StepSubmitted": ".wizard.events",
    "Token": ".models",
    "TokenPair": ".models",
    "TypePolicy": ".wizard.runner",
    "UnknownLevelError": ".errors",
    "UnsupportedWizardError": ".errors",
    "UploadConfig": ".client",
    "Verification": ".models",
    "VerificationPage": ".models",
    "WaitProgress": ".resources.level_wait",
    "WizardDeadlineError": ".errors",
    "WizardError": ".errors",
    "WizardEvent": ".wizard.events",
    "WizardResult": ".wizard.runner",
    "WizardRunner": ".wizard.runner",
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
