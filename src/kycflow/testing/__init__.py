"""kycflow's test kit: an in-process sandbox of the verification API, scenarios, faults, records.

It imports nothing of the client it tests. See docs/sandbox.md. ``MockTransport`` (a
canned-reply implementation of the client's public sending seam, docs/transport.md) is imported
only when first used, so a sandbox never loads the client's modules.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._thread import run_in_thread
from ._users import SandboxUser, SigninThrottle
from .faults import CLASSIC_KINDS, COMMIT_KINDS, Fault, FaultKind, Faults
from .records import Duplicate, RequestRecord, Submission, UploadRecord
from .review import PendingReview, Review, ReviewRecord
from .sandbox import Sandbox
from .scenario import DocType, LevelSpec, Quirks, Scenario, ScenarioError, Step
from .serve import serve, serve_async
from .state import SandboxSettings, SandboxState

if TYPE_CHECKING:
    from .mock_transport import MockTransport, RecordedRequest, reply

_SEAM_FAKES = ("MockTransport", "RecordedRequest", "reply")

__all__ = [
    "CLASSIC_KINDS",
    "COMMIT_KINDS",
    "DocType",
    "Duplicate",
    "Fault",
    "FaultKind",
    "Faults",
    "LevelSpec",
    "MockTransport",
    "PendingReview",
    "Quirks",
    "RecordedRequest",
    "RequestRecord",
    "Review",
    "ReviewRecord",
    "Sandbox",
    "SandboxSettings",
    "SandboxState",
    "SandboxUser",
    "Scenario",
    "ScenarioError",
    "SigninThrottle",
    "Step",
    "Submission",
    "UploadRecord",
    "reply",
    "run_in_thread",
    "serve",
    "serve_async",
]


def __getattr__(name: str) -> Any:
    if name in _SEAM_FAKES:
        from . import mock_transport

        return getattr(mock_transport, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
