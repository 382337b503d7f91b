"""The sandbox's whole state as one object: ``SandboxState`` (users, tokens, sign-ins, counters,
reviews, records, faults) and the settings it serves under (``SandboxSettings``).

The route handlers receive a ``SandboxState`` and work through its public members; tests read
it as ``sandbox.state`` (e.g. ``state.issued_tokens``: every token the sandbox handed out).
"""

from __future__ import annotations

import asyncio
import functools
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from ._render import token_json
from ._users import DEFAULT_2FA_CODE, SECOND_FACTORS, HistoryEntry, SandboxUser, SigninThrottle
from .faults import Faults
from .records import Records
from .review import Decision, PendingReview, ReviewDesk, ReviewRecord
from .scenario import Scenario

__all__ = ["IdCounters", "SandboxSettings", "SandboxState", "UserRef"]

DEFAULT_MAX_UPLOAD_BYTES = 25 * 1024 * 1024
DEFAULT_UPLOAD_CHUNK_BYTES = 64 * 1024

UserRef = SandboxUser | str
"""A user, by object or by email."""


@dataclass(frozen=True, slots=True)
class SandboxSettings:
    """How the sandbox serves: token lifetimes (seconds), upload limits, sign-in checks.

    ``throttle`` is the sign-in throttle (None: off). ``accept_repeats`` answers a repeated
    submit as a success (a duplicate, counted) instead of 409, as a server that does not refuse
    repeats would."""

    access_token_ttl: float = 3600.0
    refresh_token_ttl: float = 30 * 86400.0
    throttle: SigninThrottle | None = field(default_factory=SigninThrottle)
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES
    upload_chunk_bytes: int = DEFAULT_UPLOAD_CHUNK_BYTES
    require_fingerprint: bool = True
    accept_repeats: bool = False


@dataclass(slots=True)
class IdCounters:
    """The sandbox's id counters (users, history entries, procedures, uploads, documents)."""

    user: int = 0
    verification: int = 0
    application: int = 0
    upload: int = 0
    document: int = 0


class SandboxState:
    """Everything the sandbox knows, public to its routes and to tests.

    - ``users``: email -> ``SandboxUser``; ``by_access`` / ``by_refresh``: current token -> user.
    - ``signins``: open sign-in procedures (uuid -> the user awaiting a second factor, or None).
    - ``issued_tokens``: every access and refresh token issued, oldest first (to check that no
      secret leaks into logs, errors or reprs).
    - ``records``, ``reviews``, ``documents`` (email -> id -> document), ``faults``.
    - ``anon_counts``: per (route, key) request counts for callers not yet signed in (faults).
    - ``late_tasks``: late commits still to run (``late_commit`` faults).
    - ``ids``: the last ids handed out (``IdCounters``).
    """

    def __init__(
        self,
        scenario: Scenario,
        faults: Faults,
        settings: SandboxSettings,
        *,
        keep_requests: bool = True,
    ) -> None:
        self.scenario = scenario
        self.faults = faults
        self.settings = settings
        self.records = Records(len(scenario.steps), keep_requests=keep_requests)
        self.reviews = ReviewDesk(scenario.review)
        self.documents: dict[str, dict[int, dict[str, Any]]] = {}
        self.users: dict[str, SandboxUser] = {}
        self.by_access: dict[str, SandboxUser] = {}
        self.by_refresh: dict[str, SandboxUser] = {}
        self.signins: dict[str, SandboxUser | None] = {}
        self.anon_counts: dict[tuple[str, str], int] = {}
        self.issued_tokens: list[str] = []
        self.late_tasks: set[asyncio.Task[Any]] = set()
        self.ids = IdCounters()

    # ---- users and tokens --------------------------------------------------------------------

    def create_user(
        self,
        email: str | None = None,
        password: str | None = None,
        second_factor: str | None = None,
        *,
        code: str = DEFAULT_2FA_CODE,
        level: int | None = None,
    ) -> SandboxUser:
        """A new account holding fresh tokens (see ``Sandbox.create_user``)."""
        if second_factor not in (None, *SECOND_FACTORS):
            raise ValueError(
                f"second_factor must be None, 'google', 'sms' or 'email', not {second_factor!r}"
            )
        scenario = self.scenario
        level_index = scenario.level_index(scenario.initial_level if level is None else level)
        self.ids.user += 1
        email = email or f"user{self.ids.user}@sandbox.test"
        if email in self.users:
            raise ValueError(f"a user with email {email!r} exists")
        now = time.time()
        user = SandboxUser(
            id=self.ids.user,
            email=email,
            password=password or secrets.token_urlsafe(12),
            second_factor=second_factor,
            code=code,
            access_token="",
            refresh_token="",
            access_expires=0.0,
            refresh_expires=0.0,
            level=level_index,
        )
        self.ids.verification += 1
        user.history.append(HistoryEntry(self.ids.verification, level_index, None, 0, now))
        self.users[email] = user
        self.issue(user, now)
        return user

    def user(self, ref: UserRef) -> SandboxUser:
        """A user by object or email (KeyError if unknown)."""
        return ref if isinstance(ref, SandboxUser) else self.users[ref]

    def issue(
        self, user: SandboxUser, now: float, *, rotate_refresh: bool = True
    ) -> dict[str, Any]:
        """New tokens for ``user`` (the old access token stops working), as the API renders
        them: ``{"accessToken": ..., "refreshToken": ... or None}``."""
        self.by_access.pop(user.access_token, None)
        user.access_token = "at_" + secrets.token_urlsafe(24)
        user.access_expires = now + self.settings.access_token_ttl
        self.by_access[user.access_token] = user
        self.issued_tokens.append(user.access_token)
        refresh: dict[str, str] | None = None
        if rotate_refresh:
            self.by_refresh.pop(user.refresh_token, None)
            user.refresh_token = "rt_" + secrets.token_urlsafe(24)
            user.refresh_expires = now + self.settings.refresh_token_ttl
            self.by_refresh[user.refresh_token] = user
            self.issued_tokens.append(user.refresh_token)
            refresh = token_json(user.refresh_token, now, user.refresh_expires)
        return {
            "accessToken": token_json(user.access_token, now, user.access_expires),
            "refreshToken": refresh,
        }

    def expire_token(self, user: UserRef) -> None:
        """Make the user's access token expired (its next use gets 401)."""
        self.user(user).access_expires = 0.0

    def next_count(self, route: str, key: str) -> int:
        """The 0-based number of this anonymous request (by ``key``) on ``route``."""
        n = self.anon_counts.get((route, key), 0)
        self.anon_counts[(route, key)] = n + 1
        return n

    # ---- procedures and reviews (see review.py and docs/sandbox.md) -------------------------

    def grant_next_level(self, user: SandboxUser, now: float) -> None:
        """Record a completed procedure: the user moves up a level, with a history entry."""
        self.ids.application += 1
        self.ids.verification += 1
        user.history.append(
            HistoryEntry(
                self.ids.verification, user.level + 1, user.level, self.ids.application, now
            )
        )
        user.level += 1

    def complete_procedure(self, user: SandboxUser, procedure: str, now: float) -> None:
        """The last step was committed: queue its review (decided now if it is due at once)."""
        self.reviews.open(user.email, procedure, now)
        self.settle_review(user, now)

    def settle_review(self, user: SandboxUser, now: float) -> None:
        """Decide the user's review if it fell due."""
        self.reviews.settle(user.email, now, lambda at: self.grant_next_level(user, at))

    def decide(
        self, user: UserRef, decision: Decision = "grant", reason: str | None = None
    ) -> ReviewRecord:
        """Decide the user's pending review now; KeyError when none is pending."""
        found = self.user(user)
        grant = functools.partial(self.grant_next_level, found)
        return self.reviews.decide(found.email, decision, reason, time.time(), grant)

    def pending_reviews(self) -> list[PendingReview]:
        """Completed procedures still awaiting their decision."""
        return list(self.reviews.pending.values())

    def review_log(self, email: str | None = None) -> list[ReviewRecord]:
        """Decided reviews, in decision order (of one user's email, or all)."""
        return [r for r in self.reviews.decided if email is None or r.email == email]

    # ---- configuration -----------------------------------------------------------------------

    def set_faults(self, faults: Faults) -> None:
        """Replace the fault configuration (its windows start now)."""
        faults.reset_clock()
        self.faults = faults

    def reset(self) -> None:
        """Forget users, tokens, procedures, records and per-user fault counters."""
        self.users.clear()
        self.by_access.clear()
        self.by_refresh.clear()
        self.signins.clear()
        self.anon_counts.clear()
        self.issued_tokens.clear()
        self.records.clear()
        self.reviews.clear()
        self.documents.clear()
        if self.settings.throttle is not None:
            self.settings.throttle.clear()
