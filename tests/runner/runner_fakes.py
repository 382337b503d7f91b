"""An in-memory model of the verification wizard (docs/architecture.md) behind a fake client.

``FakeServer`` holds one wizard per user. ``GET wizard`` returns the open procedure's current
step; a submit commits it when the uuid, type and stored paths are right; a submit equal to an
already-committed one is a duplicate (409, recorded). Faults are injected per user through
queues, consumed one per call.

Not an HTTP server, on purpose: the runner's unit tests watch what only an in-process client
can show (how many document streams are open at once, an upload held mid-stream, a process
"crash" between two calls, the runner's own waits without the transport's retries). The runner
over the real client and HTTP is tested on the suite's fake server (runner_e2e/
test_e2e_requests.py) and on the Sandbox (runner_e2e/).
"""

from __future__ import annotations

import asyncio
import uuid as uuid_lib
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from fakeclock import FakeClock as FakeClock

from kycflow import Document, MemoryProvider, WizardStep
from kycflow.errors import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    BadRequestError,
    ConflictError,
    OutcomeUnknownError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
)

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(64))
PNG = b"\x89PNG\r\n\x1a\n" + bytes(64)
PDF = b"%PDF-1.4\n" + b"x" * 64

WORKFLOW = "B2B\\TCA\\Wizards\\Workflow\\"


def dtype(type_id: int, description: str, *, enabled: bool = True) -> dict[str, Any]:
    return {
        "id": type_id,
        "description": description,
        "enabled": enabled,
        "example": "",
        "group": [],
    }


PASSPORT = dtype(2, "Passport")
ID_CARD = dtype(1, "ID card")
ADDRESS = dtype(5, "Proof of address")
SELFIE = dtype(7, "Selfie")
THREE_STEPS = [[PASSPORT, ID_CARD], [ADDRESS], [SELFIE]]

# Supplies every type above, keyed in each supported way.
ALL_DOCS = MemoryProvider(
    {
        "Passport": JPEG,
        "id card": [("id_front.jpg", JPEG), ("id_back.png", PNG)],
        "Proof_of_Address": PDF,
        7: JPEG,
    }
)


class SimulatedCrash(Exception):
    """The process 'dies' here: nothing after this point of the run happens."""


def _unknown(cause: str = "timeout") -> OutcomeUnknownError:
    inner: APIError
    if cause == "timeout":
        inner = APITimeoutError("read timed out", method="POST", path="/v2/my/verifications")
    elif cause == "429":
        inner = RateLimitError("slow down", status=429, retry_after=1.0, method="POST")
    elif cause == "503":
        inner = ServerError("unavailable", status=503, method="POST")
    else:
        inner = ServerError("bad gateway", status=502, method="POST", path="/v2/my/verifications")
    return OutcomeUnknownError("outcome unknown", cause=inner, method="POST")


@dataclass
class UserState:
    name: str
    steps: list[list[dict[str, Any]]]
    stall: bool = False
    code_override: int | None = None
    echo: bool = False
    """Submit replies echo the submitted type (the reference) instead of the next page."""
    uuid: str = field(default_factory=lambda: str(uuid_lib.uuid4()))
    position: int = 0
    done: bool = False
    committed: list[tuple[str, int, tuple[str, ...]]] = field(default_factory=list)
    duplicates: list[tuple[str, int, tuple[str, ...]]] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    stored: dict[str, bytes] = field(default_factory=dict)
    get_calls: int = 0
    submit_calls: int = 0
    upload_calls: int = 0
    submit_faults: deque[str] = field(default_factory=deque)
    upload_faults: deque[str] = field(default_factory=deque)
    get_faults: deque[str | None] = field(default_factory=deque)
    upload_delay: float = 0.0
    gate: asyncio.Event | None = None
    gate_names: set[str] | None = None
    blocked: set[str] = field(default_factory=set)
    blocked_event: asyncio.Event = field(default_factory=asyncio.Event)
    open_streams: int = 0
    max_open_streams: int = 0
    # A submit the server is still processing: committed right after the next wizard read.
    late_commit: tuple[str, int, list[str]] | None = None

    def envelope(self) -> dict[str, Any]:
        if self.done:
            return {
                "code": 202,
                "data": None,
                "done": True,
                "uuid": self.uuid,
                "workflow": WORKFLOW + "TerminateWorkflow",
            }
        return {
            "code": self.code_override or 200,
            "data": {"types": self.steps[self.position]},
            "done": False,
            "uuid": self.uuid,
            "workflow": f"{WORKFLOW}Step{self.position}",
        }

    def uploads_of(self, name: str) -> list[str]:
        return [path for path in self.stored if path.endswith("_" + name)]


class FakeServer:
    def __init__(self, steps: list[list[dict[str, Any]]] | None = None, **options: Any) -> None:
        self.steps = THREE_STEPS if steps is None else steps
        self.options = options
        self.users: dict[str, UserState] = {}

    def user(self, name: str = "alice") -> UserState:
        if name not in self.users:
            state = UserState(name=name, steps=self.steps, **self.options)
            state.done = not self.steps
            self.users[name] = state
        return self.users[name]

    def client(self, name: str = "alice") -> FakeClient:
        return FakeClient(self.user(name))


class FakeWizard:
    def __init__(self, state: UserState) -> None:
        self.s = state

    async def start(self) -> WizardStep:
        self.s.get_calls += 1
        await asyncio.sleep(0)
        fault = self.s.get_faults.popleft() if self.s.get_faults else None
        if fault == "down":
            raise APIConnectionError(
                "cannot connect", method="GET", path="/v2/my/verifications/wizard"
            )
        if fault == "forbidden":
            raise PermissionDeniedError("no", status=403, method="GET")
        step = WizardStep.from_envelope(self.s.envelope())
        if self.s.late_commit is not None:
            uuid, type_id, files = self.s.late_commit
            self.s.late_commit = None
            await self.submit(uuid, type_id, files)
            self.s.submit_calls -= 1  # the same request as before, not a new one
        return step

    async def submit(self, uuid: str, document_type_id: int, files: list[str]) -> WizardStep:
        s = self.s
        s.submit_calls += 1
        fault = s.submit_faults.popleft() if s.submit_faults else None
        await asyncio.sleep(0)
        if fault == "unknown":
            raise _unknown()
        if fault in ("429", "503"):
            raise _unknown(fault)
        if fault == "late_commit":
            s.late_commit = (uuid, document_type_id, list(files))
            raise _unknown()
        if fault == "crash_before_send":
            raise SimulatedCrash
        key = (uuid, document_type_id, tuple(files))
        if key in s.committed:
            s.duplicates.append(key)
            raise ConflictError("duplicate submission", status=409)
        if s.done or uuid != s.uuid:
            s.rejected.append("uuid")
            raise BadRequestError("no such open procedure", status=400)
        enabled = {t["id"] for t in s.steps[s.position] if t.get("enabled", True)}
        if document_type_id not in enabled or not files or not set(files) <= set(s.stored):
            s.rejected.append("content")
            raise BadRequestError("invalid documents", status=400)
        s.committed.append(key)
        if not s.stall:
            s.position += 1
            s.done = s.position >= len(s.steps)
        if s.done:
            reply: dict[str, Any] = {**s.envelope(), "data": {"types": []}}
        else:
            reply = s.envelope()
        if fault == "commit_then_unknown":
            raise _unknown("5xx")
        if fault in ("commit_then_429", "commit_then_503"):
            raise _unknown(fault.removeprefix("commit_then_"))
        if s.echo and not s.done:
            reply = {**reply, "data": {"types": [str(document_type_id)]}}
        if fault == "crash_after_commit":
            raise SimulatedCrash
        return WizardStep.from_envelope(reply)


class FakeFiles:
    def __init__(self, state: UserState) -> None:
        self.s = state

    async def upload(self, document: Document) -> str:
        s = self.s
        s.upload_calls += 1
        fault = s.upload_faults.popleft() if s.upload_faults else None
        if fault == "unknown":
            raise _unknown()
        if fault == "503":
            raise ServerError("unavailable", status=503, method="POST", path="/v2/my/files")
        if fault == "forbidden":
            raise PermissionDeniedError("no", status=403, method="POST", path="/v2/my/files")
        stream = document.open_stream()
        s.open_streams += 1
        s.max_open_streams = max(s.max_open_streams, s.open_streams)
        data = b""
        gated = False
        try:
            async for chunk in stream:
                data += chunk
                if (
                    s.gate is not None
                    and not gated
                    and (s.gate_names is None or document.name in s.gate_names)
                ):
                    gated = True
                    s.blocked.add(document.name)
                    s.blocked_event.set()
                    await s.gate.wait()
                if s.upload_delay:
                    await asyncio.sleep(s.upload_delay)
        finally:
            # As the real client does: the source stream is closed whatever happens.
            await stream.aclose()  # type: ignore[attr-defined]
            s.open_streams -= 1
        if not data:
            raise BadRequestError("empty file", status=400)
        path = f"u/{s.name}/{len(s.stored) + 1}_{document.name}"
        s.stored[path] = data
        if fault == "store_then_unknown":
            raise _unknown()
        return path


class FakeClient:
    """The part of ``kycflow.Client``'s public API the runner uses."""

    def __init__(self, state: UserState) -> None:
        self.wizard = FakeWizard(state)
        self.files = FakeFiles(state)
