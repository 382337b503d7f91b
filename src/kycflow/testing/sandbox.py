"""The in-process sandbox of the verification API (aiohttp.web): the ``Sandbox`` class.

It implements docs/architecture.md's wire contracts on its own: it shares no code with the
client it tests. See docs/sandbox.md. Its whole state is one ``SandboxState`` (``sb.state``),
which the route handlers (``_routes_*``, wired up in ``_app``) receive.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from types import TracebackType
from typing import Any

from aiohttp import web

from ._app import build_app
from ._http import API_PREFIX, LOOPBACK
from ._render import history_entry
from ._users import DEFAULT_2FA_CODE, SandboxUser, SigninThrottle
from .faults import FaultKind, Faults
from .records import Duplicate, Records, RequestRecord, Submission, UploadRecord
from .review import Decision, PendingReview, ReviewDesk, ReviewRecord
from .scenario import Scenario
from .state import (
    DEFAULT_MAX_UPLOAD_BYTES,
    DEFAULT_UPLOAD_CHUNK_BYTES,
    SandboxSettings,
    SandboxState,
    UserRef,
)

__all__ = ["Sandbox", "SandboxUser"]


class Sandbox:
    """An in-process server of the verification API, with faults and records.

    ``async with Sandbox(scenario, faults=...) as sb:`` starts it on ``host:port`` (port 0 picks a
    free one); ``sb.base_url`` is the API's base URL (``http://127.0.0.1:PORT/api``). The admin
    API under ``/_sandbox`` is served only when bound to loopback (or ``admin=True``), and only
    answers loopback peers. ``sb.state`` is everything it knows (users, tokens, sign-ins,
    counters, reviews, records; ``sb.state.issued_tokens`` lists every token it handed out).
    """

    def __init__(
        self,
        scenario: Scenario | None = None,
        *,
        faults: Faults | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        access_token_ttl: float = 3600.0,
        refresh_token_ttl: float = 30 * 86400.0,
        throttle_signin: bool = True,
        signin_throttle: SigninThrottle | None = None,
        max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES,
        upload_chunk_bytes: int = DEFAULT_UPLOAD_CHUNK_BYTES,
        require_fingerprint: bool = True,
        keep_requests: bool = True,
        admin: bool | None = None,
        accept_repeats: bool = False,
    ) -> None:
        settings = SandboxSettings(
            access_token_ttl=access_token_ttl,
            refresh_token_ttl=refresh_token_ttl,
            throttle=(signin_throttle or SigninThrottle()) if throttle_signin else None,
            max_upload_bytes=max_upload_bytes,
            upload_chunk_bytes=upload_chunk_bytes,
            require_fingerprint=require_fingerprint,
            accept_repeats=accept_repeats,
        )
        self.state = SandboxState(
            scenario or Scenario.default(),
            faults or Faults(),
            settings,
            keep_requests=keep_requests,
        )
        self.host = host
        self.port = port
        self.admin = host in LOOPBACK if admin is None else admin
        self._app: web.Application | None = None
        self._runner: web.AppRunner | None = None

    # ---- the state's parts -------------------------------------------------------------------

    @property
    def scenario(self) -> Scenario:
        """The scenario served."""
        return self.state.scenario

    @property
    def settings(self) -> SandboxSettings:
        """Token lifetimes, upload limits and sign-in checks."""
        return self.state.settings

    @property
    def faults(self) -> Faults:
        """The fault configuration (replace it with ``set_faults``)."""
        return self.state.faults

    @property
    def records(self) -> Records:
        """The request, submission, duplicate and upload records."""
        return self.state.records

    @property
    def reviews(self) -> ReviewDesk:
        """The review desk (pending and decided reviews)."""
        return self.state.reviews

    @property
    def client_documents(self) -> dict[str, dict[int, dict[str, Any]]]:
        """The documents created through ``/v2/my/documents`` (email -> id -> document)."""
        return self.state.documents

    # ---- lifecycle -------------------------------------------------------------------------

    @property
    def app(self) -> web.Application:
        """The aiohttp application (built on first use)."""
        if self._app is None:
            self._app = build_app(self.state, admin=self.admin)
        return self._app

    async def start(self) -> None:
        """Bind and serve. ``port`` is updated with the bound port."""
        if self._runner is not None:
            return
        runner = web.AppRunner(self.app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self.port = int(runner.addresses[0][1])
        self.state.faults.reset_clock()

    async def stop(self) -> None:
        """Stop serving (state and records are kept)."""
        runner, self._runner = self._runner, None
        for task in list(self.state.late_tasks):
            task.cancel()  # late commits still pending when the server stops never happen
        if runner is not None:
            await runner.cleanup()

    async def __aenter__(self) -> Sandbox:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    @property
    def root_url(self) -> str:
        """``http://host:port`` (the admin API lives under ``/_sandbox`` here)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def base_url(self) -> str:
        """The API's base URL, ``http://host:port/api``."""
        return self.root_url + API_PREFIX

    def url(self, path: str) -> str:
        """``base_url`` + ``path`` (e.g. ``/v2/my/verifications``)."""
        return self.base_url + path

    # ---- users -------------------------------------------------------------------------------

    def create_user(
        self,
        email: str | None = None,
        password: str | None = None,
        second_factor: str | None = None,
        *,
        code: str = DEFAULT_2FA_CODE,
        level: int | None = None,
    ) -> SandboxUser:
        """A new account holding fresh tokens. ``level`` is a level id (default: the scenario's
        initial level); ``second_factor`` is None, ``"google"``, ``"sms"`` or ``"email"`` with
        ``code``."""
        return self.state.create_user(email, password, second_factor, code=code, level=level)

    def create_users(self, count: int, **kwargs: Any) -> list[SandboxUser]:
        """``count`` users with generated emails and passwords."""
        return [self.create_user(**kwargs) for _ in range(count)]

    def user(self, ref: UserRef) -> SandboxUser:
        """A user by object or email (KeyError if unknown)."""
        return self.state.user(ref)

    @property
    def users(self) -> list[SandboxUser]:
        """Every user, in creation order."""
        return list(self.state.users.values())

    def expire_token(self, user: UserRef) -> None:
        """Make the user's access token expired (its next use gets 401)."""
        self.state.expire_token(user)

    def level_of(self, user: UserRef) -> int:
        """The id of the user's current level (a review that fell due is decided first)."""
        found = self.user(user)
        self.state.settle_review(found, time.time())
        return self.scenario.levels[found.level].id

    def history(self, user: UserRef) -> list[dict[str, Any]]:
        """The user's verification history as the API renders it (oldest first)."""
        found = self.user(user)
        self.state.settle_review(found, time.time())
        return [history_entry(self.scenario, found, e) for e in found.history]

    # ---- reviews (see review.py and docs/sandbox.md) -------------------------------------

    def decide(
        self, user: UserRef, decision: Decision = "grant", reason: str | None = None
    ) -> ReviewRecord:
        """Decide the user's pending review now (``"grant"`` or ``"refuse"`` with a reason);
        KeyError when none is pending."""
        return self.state.decide(user, decision, reason)

    def pending_reviews(self) -> list[PendingReview]:
        """Completed procedures still awaiting their decision."""
        return self.state.pending_reviews()

    def review_log(self, user: UserRef | None = None) -> list[ReviewRecord]:
        """Decided reviews, in decision order."""
        return self.state.review_log(_email(user))

    # ---- records -----------------------------------------------------------------------------

    def requests(
        self, route: str | None = None, user: UserRef | None = None
    ) -> list[RequestRecord]:
        """Recorded API requests (admin calls excluded), by route and/or user."""
        return self.records.requests(route, _email(user))

    def submissions(self, user: UserRef | None = None) -> list[Submission]:
        """Committed submissions, in commit order."""
        return self.records.submissions(_email(user))

    def duplicates(self, user: UserRef | None = None) -> list[Duplicate]:
        """Duplicate submits (each was rejected with 409)."""
        return self.records.duplicates(_email(user))

    def uploads(self, user: UserRef | None = None) -> list[UploadRecord]:
        """Stored uploads."""
        return self.records.uploads(_email(user))

    def faults_injected(
        self, route: str | None = None, kind: FaultKind | str | None = None
    ) -> list[RequestRecord]:
        """Requests that got an injected fault."""
        return self.records.faults_injected(route, None if kind is None else FaultKind(kind).value)

    def assert_each_step_submitted_once(self, users: Iterable[UserRef] | None = None) -> None:
        """Raise AssertionError if any duplicate was submitted, or a procedure's steps were not
        committed in order 0, 1, 2... (a completed procedure must hold every step)."""
        emails = None if users is None else [self.user(u).email for u in users]
        problems = self.records.problems(emails)
        if problems:
            raise AssertionError("; ".join(problems[:20]))

    def completed_procedures(self, user: UserRef | None = None) -> list[str]:
        """The uuids of completed procedures."""
        return [s.uuid for s in self.submissions(user) if s.completed]

    def reset(self) -> None:
        """Forget users, tokens, procedures, records and per-user fault counters."""
        self.state.reset()

    def set_faults(self, faults: Faults) -> None:
        """Replace the fault configuration (its windows start now)."""
        self.state.set_faults(faults)


def _email(user: UserRef | None) -> str | None:
    if user is None:
        return None
    return user.email if isinstance(user, SandboxUser) else user
