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
        DocumentError,
        KycflowError,
        MissingDocumentError,
        NotFoundError,
        OutcomeUnknownError,
        PermissionDeniedError,
        ProtocolError,
        RateLimitError,
        RedirectRefusedError,
        ServerError,
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
    from .runner import StepResult, TypePolicy, WizardResult, WizardRunner

# Public name -> the module that defines it (relative to this package).
_EXPORTS: dict[str, str] = {
    "APIConnectionError": ".errors",
    "APIError": ".errors",
    "APIStatusError": ".errors",
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
    "Completed": ".events",
    "ConfigurationError": ".errors",
    "ConflictError": ".errors",
    "DirectoryProvider": ".providers",
    "Document": ".documents",
    "DocumentError": ".errors",
    "DocumentType": ".models",
    "Failed": ".events",
    "FileProvider": ".providers",
    "FileUploaded": ".events",
    "KycflowError": ".errors",
    "Level": ".models",
    "MemoryCheckpointStore": ".checkpoint",
    "MemoryProvider": ".providers",
    "MissingDocumentError": ".errors",
    "NotFoundError": ".errors",
    "OutcomeUnknownError": ".errors",
    "PermissionDeniedError": ".errors",
    "ProtocolError": ".errors",
    "RateLimitError": ".errors",
    "Reason": ".models",
    "RedirectRefusedError": ".errors",
    "RequestOptions": ".client",
    "Requester": ".auth",
    "Retrying": ".events",
    "ServerError": ".errors",
    "SessionAuth": ".auth",
    "StepResult": ".runner",
    "StepStarted": ".events",
    "StepSubmitted": ".events",
    "Token": ".models",
    "TokenPair": ".models",
    "TypePolicy": ".runner",
    "UploadConfig": ".client",
    "Verification": ".models",
    "VerificationPage": ".models",
    "WizardDeadlineError": ".errors",
    "WizardError": ".errors",
    "WizardEvent": ".events",
    "WizardResult": ".runner",
    "WizardRunner": ".runner",
    "WizardStalledError": ".errors",
    "WizardStep": ".models",
    "WizardStepLimitError": ".errors",
    "configure_logging": "._logging",
    "events": ".events",  # the submodule itself
    "redact_processor": "._logging",
    "run_many": ".batch",
    "sign_in": ".auth",
}

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
    "Completed",
    "ConfigurationError",
    "ConflictError",
    "DirectoryProvider",
    "Document",
    "DocumentError",
    "DocumentType",
    "Failed",
    "FileProvider",
    "FileUploaded",
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
    "RedirectRefusedError",
    "RequestOptions",
    "Requester",
    "Retrying",
    "ServerError",
    "SessionAuth",
    "StepResult",
    "StepStarted",
    "StepSubmitted",
    "Token",
    "TokenPair",
    "TypePolicy",
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
