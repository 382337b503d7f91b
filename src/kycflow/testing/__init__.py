"""kycflow's test kit: an in-process sandbox of the verification API, scenarios, faults, records.

It imports nothing of the client it tests. See docs/sandbox.md.
"""

from ._state import SandboxUser, SigninThrottle
from ._thread import run_in_thread
from .faults import CLASSIC_KINDS, COMMIT_KINDS, Fault, FaultKind, Faults
from .mock_transport import MockTransport, RecordedRequest, reply
from .records import Duplicate, RequestRecord, Submission, UploadRecord
from .review import PendingReview, Review, ReviewRecord
from .sandbox import Sandbox
from .scenario import DocType, LevelSpec, Quirks, Scenario, ScenarioError, Step
from .serve import serve, serve_async
from .state import SandboxSettings, SandboxState

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
