"""Per-user state of the sandbox, kept small: thousands of users run at once."""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field

__all__ = ["DEFAULT_2FA_CODE", "SECOND_FACTORS", "HistoryEntry", "SandboxUser", "SigninThrottle"]

DEFAULT_2FA_CODE = "123456"
SECOND_FACTORS = ("google", "sms", "email")


@dataclass(slots=True)
class HistoryEntry:
    """A granted level. ``application`` is the procedure number (0 for "created")."""

    id: int
    level: int
    previous: int | None
    application: int
    create_time: float


@dataclass(slots=True, repr=False, eq=False)
class SandboxUser:
    """A sandbox account. ``access_token`` and ``refresh_token`` are current; a sign-in or
    refresh replaces them (one session per user). Secrets never show in the repr."""

    id: int
    email: str
    password: str
    second_factor: str | None
    code: str
    access_token: str
    refresh_token: str
    access_expires: float
    refresh_expires: float
    level: int
    history: list[HistoryEntry] = field(default_factory=list)
    procedure: str | None = None
    step: int = 0
    committed: set[tuple[str, int, tuple[str, ...]]] = field(default_factory=set)
    ended: str | None = None
    """A procedure that ended without success (``Quirks.final_done`` False): the wizard keeps
    answering its 202 with ``done: false``."""
    result_page: str | None = None
    """A procedure just completed under an empty submit reading: the next wizard call answers
    its final 202 (the only way such a client can see the end), then opens the next one."""
    refused: set[int] = field(default_factory=set)
    """Types refused on the open step (``Quirks.refusal == "fewer"`` leaves them out)."""
    closed: set[str] = field(default_factory=set)
    files: dict[str, str] = field(default_factory=dict)
    counters: dict[str, int] = field(default_factory=dict)

    def __repr__(self) -> str:
        return (
            f"SandboxUser(id={self.id}, email={self.email!r}, second_factor="
            f"{self.second_factor!r}, level={self.level})"
        )

    def next_index(self, route: str) -> int:
        """The 0-based number of this request among the user's requests on ``route``."""
        n = self.counters.get(route, 0)
        self.counters[route] = n + 1
        return n


@dataclass
class SigninThrottle:
    """The vendor's sign-in throttle: more than ``max_attempts`` tries of one email within
    ``window`` seconds blocks it for ``block`` seconds (429 with ``Retry-After``)."""

    max_attempts: int = 5
    window: float = 60.0
    block: float = 600.0
    _tries: dict[str, deque[float]] = field(default_factory=dict, repr=False)
    _blocked: dict[str, float] = field(default_factory=dict, repr=False)

    def check(self, email: str) -> float | None:
        """Count a try; the seconds left in the block when the email is blocked, else None."""
        now = time.monotonic()
        until = self._blocked.get(email)
        if until is not None:
            if now < until:
                return until - now
            del self._blocked[email]
            self._tries.pop(email, None)
        tries = self._tries.setdefault(email, deque())
        while tries and now - tries[0] >= self.window:
            tries.popleft()
        tries.append(now)
        if len(tries) > self.max_attempts:
            self._blocked[email] = now + self.block
            return self.block
        return None

    def clear(self) -> None:
        """Forget every try and block."""
        self._tries.clear()
        self._blocked.clear()
