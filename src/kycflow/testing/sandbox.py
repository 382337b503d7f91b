"""The in-process sandbox of the verification API (aiohttp.web): the ``Sandbox`` class.

It implements docs/architecture.md's wire contracts on its own: it shares no code with the
client it tests. See docs/sandbox.md. The route handlers live in ``_routes_*`` modules; they are
part of this class and use its internal state.
"""

from __future__ import annotations

import asyncio
import functools
import math
import secrets
import time
from collections.abc import Iterable
from types import TracebackType
from typing import Any

from aiohttp import hdrs, web

from . import _commit_faults as commit_faults
from ._http import (
    ADMIN_PREFIX,
    API_PREFIX,
    FAULT_KEY,
    HTML_502,
    LOOPBACK,
    USER_KEY,
    Abort,
    Fail,
    Reply,
)
from ._middleware import make_middleware
from ._render import history_entry, token_json
from ._routes_admin import AdminRoutes
from ._routes_auth import AuthRoutes
from ._routes_documents import DocumentRoutes
from ._routes_files import FileRoutes
from ._routes_verifications import VerificationRoutes
from ._state import DEFAULT_2FA_CODE, SECOND_FACTORS, HistoryEntry, SandboxUser, SigninThrottle
from .faults import FaultKind, Faults
from .records import Duplicate, Records, RequestRecord, Submission, UploadRecord
from .review import Decision, PendingReview, ReviewDesk, ReviewRecord
from .scenario import Scenario

__all__ = ["Sandbox", "SandboxUser"]

DEFAULT_MAX_UPLOAD_BYTES = 25 * 1024 * 1024
DEFAULT_UPLOAD_CHUNK_BYTES = 64 * 1024

UserRef = SandboxUser | str


class Sandbox:
    """An in-process server of the verification API, with faults and records.

    ``async with Sandbox(scenario, faults=...) as sb:`` starts it on ``host:port`` (port 0 picks a
    free one); ``sb.base_url`` is the API's base URL (``http://127.0.0.1:PORT/api``). The admin
    API under ``/_sandbox`` is served only when bound to loopback (or ``admin=True``), and only
    answers loopback peers.
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
        self.scenario = scenario or Scenario.default()
        self.faults = faults or Faults()
        self.host = host
        self.port = port
        self.access_token_ttl = access_token_ttl
        self.refresh_token_ttl = refresh_token_ttl
        self.throttle: SigninThrottle | None = (
            (signin_throttle or SigninThrottle()) if throttle_signin else None
        )
        self.max_upload_bytes = max_upload_bytes
        self.upload_chunk_bytes = upload_chunk_bytes
        self.require_fingerprint = require_fingerprint
        self.admin = host in LOOPBACK if admin is None else admin
        self.accept_repeats = accept_repeats
        """Answer a repeated submit as a success (a duplicate, counted) instead of 409, as a
        server that does not refuse repeats would."""
        self.records = Records(len(self.scenario.steps), keep_requests=keep_requests)
        self.reviews = ReviewDesk(self.scenario.review)
        self.client_documents: dict[str, dict[int, dict[str, Any]]] = {}
        self._users: dict[str, SandboxUser] = {}
        self._access: dict[str, SandboxUser] = {}
        self._refresh: dict[str, SandboxUser] = {}
        self._signins: dict[str, SandboxUser | None] = {}
        self._anon_counts: dict[tuple[str, str], int] = {}
        self._next_user = 0
        self._next_verification = 0
        self._next_application = 0
        self._app: web.Application | None = None
        self._runner: web.AppRunner | None = None
        self._late_tasks: set[asyncio.Task[Any]] = set()

    # ---- lifecycle -------------------------------------------------------------------------

    @property
    def app(self) -> web.Application:
        """The aiohttp application (built on first use)."""
        if self._app is None:
            self._app = self._build_app()
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
        self.faults.reset_clock()

    async def stop(self) -> None:
        """Stop serving (state and records are kept)."""
        runner, self._runner = self._runner, None
        for task in list(self._late_tasks):
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
        if second_factor not in (None, *SECOND_FACTORS):
            raise ValueError(
                f"second_factor must be None, 'google', 'sms' or 'email', not {second_factor!r}"
            )
        level_index = self.scenario.level_index(
            self.scenario.initial_level if level is None else level
        )
        self._next_user += 1
        user_id = self._next_user
        email = email or f"user{user_id}@sandbox.test"
        if email in self._users:
            raise ValueError(f"a user with email {email!r} exists")
        now = time.time()
        user = SandboxUser(
            id=user_id,
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
        self._next_verification += 1
        user.history.append(HistoryEntry(self._next_verification, level_index, None, 0, now))
        self._users[email] = user
        self._issue(user, now)
        return user

    def create_users(self, count: int, **kwargs: Any) -> list[SandboxUser]:
        """``count`` users with generated emails and passwords."""
        return [self.create_user(**kwargs) for _ in range(count)]

    def user(self, ref: UserRef) -> SandboxUser:
        """A user by object or email (KeyError if unknown)."""
        return ref if isinstance(ref, SandboxUser) else self._users[ref]

    @property
    def users(self) -> list[SandboxUser]:
        """Every user, in creation order."""
        return list(self._users.values())

    def expire_token(self, user: UserRef) -> None:
        """Make the user's access token expired (its next use gets 401)."""
        self.user(user).access_expires = 0.0

    def level_of(self, user: UserRef) -> int:
        """The id of the user's current level (a review that fell due is decided first)."""
        found = self.user(user)
        self._settle_review(found, time.time())
        return self.scenario.levels[found.level].id

    def history(self, user: UserRef) -> list[dict[str, Any]]:
        """The user's verification history as the API renders it (oldest first)."""
        found = self.user(user)
        self._settle_review(found, time.time())
        return [history_entry(self.scenario, found, e) for e in found.history]

    def _issue(
        self, user: SandboxUser, now: float, *, rotate_refresh: bool = True
    ) -> dict[str, Any]:
        self._access.pop(user.access_token, None)
        user.access_token = "at_" + secrets.token_urlsafe(24)
        user.access_expires = now + self.access_token_ttl
        self._access[user.access_token] = user
        refresh: dict[str, str] | None = None
        if rotate_refresh:
            self._refresh.pop(user.refresh_token, None)
            user.refresh_token = "rt_" + secrets.token_urlsafe(24)
            user.refresh_expires = now + self.refresh_token_ttl
            self._refresh[user.refresh_token] = user
            refresh = token_json(user.refresh_token, now, user.refresh_expires)
        return {
            "accessToken": token_json(user.access_token, now, user.access_expires),
            "refreshToken": refresh,
        }

    def _grant_next_level(self, user: SandboxUser, now: float) -> None:
        """Record a completed procedure: the user moves up a level, with a history entry."""
        self._next_application += 1
        self._next_verification += 1
        user.history.append(
            HistoryEntry(
                self._next_verification, user.level + 1, user.level, self._next_application, now
            )
        )
        user.level += 1

    # ---- reviews (see review.py and docs/sandbox.md) -------------------------------------

    def _complete_procedure(self, user: SandboxUser, procedure: str, now: float) -> None:
        """The last step was committed: queue its review (decided now if it is due at once)."""
        self.reviews.open(user.email, procedure, now)
        self._settle_review(user, now)

    def _settle_review(self, user: SandboxUser, now: float) -> None:
        self.reviews.settle(user.email, now, lambda at: self._grant_next_level(user, at))

    def decide(
        self, user: UserRef, decision: Decision = "grant", reason: str | None = None
    ) -> ReviewRecord:
        """Decide the user's pending review now (``"grant"`` or ``"refuse"`` with a reason);
        KeyError when none is pending."""
        found = self.user(user)
        grant = functools.partial(self._grant_next_level, found)
        return self.reviews.decide(found.email, decision, reason, time.time(), grant)

    def pending_reviews(self) -> list[PendingReview]:
        """Completed procedures still awaiting their decision."""
        return list(self.reviews.pending.values())

    def review_log(self, user: UserRef | None = None) -> list[ReviewRecord]:
        """Decided reviews, in decision order."""
        email = self._email(user)
        return [r for r in self.reviews.decided if email is None or r.email == email]

    # ---- records -----------------------------------------------------------------------------

    def _email(self, user: UserRef | None) -> str | None:
        if user is None:
            return None
        return user.email if isinstance(user, SandboxUser) else user

    def requests(
        self, route: str | None = None, user: UserRef | None = None
    ) -> list[RequestRecord]:
        """Recorded API requests (admin calls excluded), by route and/or user."""
        return self.records.requests(route, self._email(user))

    def submissions(self, user: UserRef | None = None) -> list[Submission]:
        """Committed submissions, in commit order."""
        return self.records.submissions(self._email(user))

    def duplicates(self, user: UserRef | None = None) -> list[Duplicate]:
        """Duplicate submits (each was rejected with 409)."""
        return self.records.duplicates(self._email(user))

    def uploads(self, user: UserRef | None = None) -> list[UploadRecord]:
        """Stored uploads."""
        return self.records.uploads(self._email(user))

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
        self._users.clear()
        self._access.clear()
        self._refresh.clear()
        self._signins.clear()
        self._anon_counts.clear()
        self.records.clear()
        self.reviews.clear()
        self.client_documents.clear()
        if self.throttle is not None:
            self.throttle.clear()

    def set_faults(self, faults: Faults) -> None:
        """Replace the fault configuration (its windows start now)."""
        faults.reset_clock()
        self.faults = faults

    # ---- app ---------------------------------------------------------------------------------

    def _build_app(self) -> web.Application:
        app = web.Application(
            middlewares=[make_middleware(self.records, lambda: self.scenario.quirks.error_body)]
        )
        api = API_PREFIX + "/v2/my"
        verifications = VerificationRoutes(self)
        files = FileRoutes(self)
        auth = AuthRoutes(self)
        add = app.router.add_route
        add("GET", api + "/verifications", verifications.history, name="history")
        add("GET", api + "/verifications/wizard", verifications.wizard, name="wizard")
        add("GET", api + r"/verifications/{vid:\d+}", verifications.details, name="details")
        add("POST", api + "/verifications", verifications.submit, name="submit")
        add("POST", api + "/verifications/", verifications.submit_slash, name="submit_slash")
        add("POST", api + "/files", files.upload, name="upload")
        docs = DocumentRoutes(self)
        add("GET", api + "/documents", docs.list, name="documents")
        add("POST", api + "/documents", docs.create, name="document_create")
        add("GET", api + r"/documents/{did:\d+}", docs.get, name="document")
        add("DELETE", api + r"/documents/{did:\d+}", docs.delete, name="document_delete")
        add("GET", api + "/signin/wizard", auth.signin_wizard, name="signin_wizard")
        add("POST", api + "/signin", auth.signin, name="signin")
        add("POST", api + "/signin/2fa", auth.choose_factor, name="signin_2fa")
        add("POST", api + "/2fa/{kind}", auth.second_factor, name="second_factor")
        add("POST", api + "/refresh", auth.refresh, name="refresh")
        if self.admin:
            admin = AdminRoutes(self)
            add("POST", ADMIN_PREFIX + "/users", admin.users, name="admin_users")
            add("GET", ADMIN_PREFIX + "/records", admin.records, name="admin_records")
            add("GET", ADMIN_PREFIX + "/faults", admin.get_faults, name="admin_faults")
            add("POST", ADMIN_PREFIX + "/faults", admin.set_faults, name="admin_set_faults")
            add("POST", ADMIN_PREFIX + "/reset", admin.reset, name="admin_reset")
            add("POST", ADMIN_PREFIX + "/expire", admin.expire, name="admin_expire")
            add("GET", ADMIN_PREFIX + "/scenario", admin.scenario, name="admin_scenario")
            add("POST", ADMIN_PREFIX + "/review", admin.review, name="admin_review")
            add("GET", ADMIN_PREFIX + "/reviews", admin.reviews, name="admin_reviews")
        return app

    # ---- request helpers (used by the route handlers) -----------------------------------------

    def _authenticate(self, request: web.Request) -> SandboxUser:
        """The caller, by its bearer access token (401 when missing, unknown or expired)."""
        header = request.headers.get(hdrs.AUTHORIZATION, "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Fail(401, "Unauthorized", "missing bearer token")
        user = self._access.get(token.strip())
        if user is None:
            raise Fail(401, "Unauthorized", "invalid access token")
        if time.time() >= user.access_expires:
            raise Fail(401, "Unauthorized", "access token expired")
        request[USER_KEY] = user.email
        self._settle_review(user, time.time())
        return user

    async def _inject(self, request: web.Request, route: str, user: SandboxUser | str) -> None:
        """Decide and apply this request's fault; raises to reply without processing."""
        if commit_faults.is_late(request):
            return
        if isinstance(user, SandboxUser):
            key, n = user.email, user.next_index(route)
        else:
            key = user
            n = self._anon_counts.get((route, key), 0)
            self._anon_counts[(route, key)] = n + 1
        fault = self.faults.decide(route, key, n)
        if fault is None:
            return
        request[FAULT_KEY] = fault.kind
        kind = fault.kind
        if await commit_faults.apply(request, route, fault, self.faults, self._late_tasks):
            return
        if kind is FaultKind.SERVER_ERROR:
            status = fault.status or 500
            raise Fail(status, "Server error", f"injected {status}")
        if kind is FaultKind.RATE_LIMIT:
            retry_after = str(math.ceil(self.faults.retry_after))
            raise Fail(429, "Too Many Requests", "rate limited", {"Retry-After": retry_after})
        if kind is FaultKind.RESET_BEFORE:
            raise Abort
        if kind is FaultKind.HTML_ERROR:
            raise Reply(web.Response(status=502, text=HTML_502, content_type="text/html"))
        if kind is FaultKind.SLOW:
            if route != "upload":
                # Take the body first: a client that gives up during the delay still had its
                # request delivered, so it is processed as the docs promise. (An upload keeps
                # streaming through the delay, which is what slow-upload tests rely on.)
                await request.read()
            await asyncio.sleep(self.faults.slow_delay)
