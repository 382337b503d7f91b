"""The in-process sandbox of the verification API (aiohttp.web).

It implements docs/architecture.md's wire contracts on its own: it shares no code with the
client it tests. See docs/sandbox.md.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import json
import math
import re
import secrets
import time
import urllib.parse
import uuid as uuid_mod
from collections.abc import Awaitable, Callable, Iterable, Mapping
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

from aiohttp import BodyPartReader, hdrs, web

from ._state import HistoryEntry, SandboxUser, SigninThrottle
from .faults import FaultKind, Faults
from .records import Duplicate, Records, RequestRecord, Submission, UploadRecord
from .scenario import Scenario, Step

__all__ = ["Sandbox", "SandboxUser"]

API_PREFIX = "/api"
ADMIN_PREFIX = "/_sandbox"
DEFAULT_MAX_UPLOAD_BYTES = 25 * 1024 * 1024
DEFAULT_UPLOAD_CHUNK_BYTES = 64 * 1024
DEFAULT_2FA_CODE = "123456"
SIGNIN_WORKFLOW = "B2B\\TCA\\Wizards\\Workflow\\SigninWorkflow"
AUTH_WORKFLOW = "B2B\\TCA\\Wizards\\Workflow\\AuthWorkflow"
SECOND_FACTORS = ("google", "sms")
MAX_PENDING_SIGNINS = 100_000
_LOOPBACK = {"127.0.0.1", "::1", "localhost"}
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")
_HTML_502 = (
    "<html><head><title>502 Bad Gateway</title></head><body>"
    "<center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>"
)

_ROUTE_ALIASES = {"second_factor": "2fa", "submit_slash": "submit"}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
UserRef = SandboxUser | str


class _Fail(Exception):
    """Rendered by the middleware as the API's error body."""

    def __init__(
        self, status: int, message: str, issue: str | None = None, headers: Mapping[str, str] = {}
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.issue = issue or message
        self.headers = dict(headers)


class _Reply(Exception):
    """Reply with a ready response (an injected fault)."""

    def __init__(self, response: web.Response) -> None:
        super().__init__("injected reply")
        self.response = response


class _Abort(Exception):
    """Abort the connection without a reply."""


def _error_response(
    status: int, message: str, issue: str, headers: Mapping[str, str] | None = None
) -> web.Response:
    body = {"error": {"message": message, "details": [{"issue": issue}]}}
    return web.json_response(body, status=status, headers=headers)


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds")


def _token_json(token: str, created: float, expires: float) -> dict[str, str]:
    return {"token": token, "createdAt": _iso(created), "expiresAt": _iso(expires)}


def _valid_fingerprint(value: Any) -> bool:
    if not isinstance(value, str) or not value:
        return False
    padded = value + "=" * (-len(value) % 4)
    try:
        raw = base64.b64decode(padded.replace("-", "+").replace("_", "/"), validate=True)
        decoded = json.loads(raw)
    except (binascii.Error, ValueError):
        return False
    return isinstance(decoded, dict) and isinstance(decoded.get("user_agent"), str)


def _render_types(step: Step, default_shape: str) -> Any:
    wire = [t.wire() for t in step.types]
    shape = step.data_shape or default_shape
    if shape == "types_object" and len(wire) == 1:
        return {"types": wire[0]}
    if shape == "bare_list":
        return wire
    if shape == "reference":
        return [{"types": t} for t in wire]
    return {"types": wire}


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
        self.admin = host in _LOOPBACK if admin is None else admin
        self.records = Records(len(self.scenario.steps), keep_requests=keep_requests)
        self._users: dict[str, SandboxUser] = {}
        self._access: dict[str, SandboxUser] = {}
        self._refresh: dict[str, SandboxUser] = {}
        self._signins: dict[str, SandboxUser | None] = {}
        self._anon_counts: dict[tuple[str, str], int] = {}
        self._next_user = 0
        self._next_verification = 0
        self._next_application = 0
        self._next_upload = 0
        self._next_request = 0
        self._step_data = [
            _render_types(s, self.scenario.quirks.wizard_data) for s in self.scenario.steps
        ]
        self._app: web.Application | None = None
        self._runner: web.AppRunner | None = None

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
        initial level); ``second_factor`` is None, ``"google"`` or ``"sms"`` with ``code``."""
        if second_factor not in (None, *SECOND_FACTORS):
            raise ValueError(
                f"second_factor must be None, 'google' or 'sms', not {second_factor!r}"
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
        """The id of the user's current level."""
        return self.scenario.levels[self.user(user).level].id

    def history(self, user: UserRef) -> list[dict[str, Any]]:
        """The user's verification history as the API renders it (oldest first)."""
        found = self.user(user)
        return [self._entry_json(found, e) for e in found.history]

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
            refresh = _token_json(user.refresh_token, now, user.refresh_expires)
        return {
            "accessToken": _token_json(user.access_token, now, user.access_expires),
            "refreshToken": refresh,
        }

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
        if self.throttle is not None:
            self.throttle.clear()

    def set_faults(self, faults: Faults) -> None:
        """Replace the fault configuration (its windows start now)."""
        faults.reset_clock()
        self.faults = faults

    # ---- app ---------------------------------------------------------------------------------

    def _build_app(self) -> web.Application:
        app = web.Application(middlewares=[self._make_middleware()])
        api = API_PREFIX + "/v2/my"
        add = app.router.add_route
        add("GET", api + "/verifications", self._history, name="history")
        add("GET", api + "/verifications/wizard", self._wizard, name="wizard")
        add("GET", api + r"/verifications/{vid:\d+}", self._details, name="details")
        add("POST", api + "/verifications", self._submit, name="submit")
        add("POST", api + "/verifications/", self._submit_slash, name="submit_slash")
        add("POST", api + "/files", self._upload, name="upload")
        add("GET", api + "/signin/wizard", self._signin_wizard, name="signin_wizard")
        add("POST", api + "/signin", self._signin, name="signin")
        add("POST", api + "/2fa/{kind}", self._second_factor, name="second_factor")
        add("POST", api + "/refresh", self._refresh_tokens, name="refresh")
        if self.admin:
            add("POST", ADMIN_PREFIX + "/users", self._admin_users, name="admin_users")
            add("GET", ADMIN_PREFIX + "/records", self._admin_records, name="admin_records")
            add("GET", ADMIN_PREFIX + "/faults", self._admin_get_faults, name="admin_faults")
            add("POST", ADMIN_PREFIX + "/faults", self._admin_set_faults, name="admin_set_faults")
            add("POST", ADMIN_PREFIX + "/reset", self._admin_reset, name="admin_reset")
            add("POST", ADMIN_PREFIX + "/expire", self._admin_expire, name="admin_expire")
            add("GET", ADMIN_PREFIX + "/scenario", self._admin_scenario, name="admin_scenario")
        return app

    def _make_middleware(self) -> Any:
        @web.middleware
        async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
            self._next_request += 1
            request_id = f"sbx-{self._next_request:08x}"
            # aiohttp route names must be identifiers; "2fa" is not.
            route = _ROUTE_ALIASES.get(request.match_info.route.name or "")
            route = route or request.match_info.route.name
            is_admin = route is not None and route.startswith("admin")
            if is_admin and request.remote not in _LOOPBACK:
                return _error_response(
                    403, "admin API only for loopback", "forbidden", {"X-Request-Id": request_id}
                )
            status: int | None
            try:
                response = await handler(request)
            except _Fail as fail:
                response = _error_response(fail.status, fail.message, fail.issue, fail.headers)
            except _Reply as reply:
                response = reply.response
            except _Abort:
                response = None
            except web.HTTPException as exc:
                if exc.status < 400:
                    exc.headers["X-Request-Id"] = request_id
                    raise
                response = _error_response(exc.status, exc.reason, exc.reason)
            fault = request.get("fault")
            if response is not None and fault == FaultKind.RESET_AFTER:
                response = None
            if response is None:
                if request.transport is not None:
                    request.transport.abort()
                status = None
                response = web.Response(status=500)
            else:
                if fault == FaultKind.MALFORMED_JSON and isinstance(response, web.Response):
                    body = response.body if isinstance(response.body, bytes) else b"{}"
                    response = web.Response(
                        body=body[: max(1, len(body) // 2)],
                        status=response.status,
                        content_type="application/json",
                    )
                response.headers["X-Request-Id"] = request_id
                status = response.status
            if not is_admin:
                self.records.add_request(
                    RequestRecord(
                        method=request.method,
                        path=request.path,
                        route=route,
                        user=request.get("user"),
                        status=status,
                        fault=None if fault is None else str(fault),
                        time=time.time(),
                        request_id=request_id,
                    )
                )
            return response

        return middleware

    # ---- helpers -----------------------------------------------------------------------------

    def _authenticate(self, request: web.Request) -> SandboxUser:
        header = request.headers.get(hdrs.AUTHORIZATION, "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise _Fail(401, "Unauthorized", "missing bearer token")
        user = self._access.get(token.strip())
        if user is None:
            raise _Fail(401, "Unauthorized", "invalid access token")
        if time.time() >= user.access_expires:
            raise _Fail(401, "Unauthorized", "access token expired")
        request["user"] = user.email
        return user

    async def _inject(self, request: web.Request, route: str, user: SandboxUser | str) -> None:
        """Decide and apply this request's fault; raises to reply without processing."""
        if isinstance(user, SandboxUser):
            key, n = user.email, user.next_index(route)
        else:
            key = user
            n = self._anon_counts.get((route, key), 0)
            self._anon_counts[(route, key)] = n + 1
        fault = self.faults.decide(route, key, n)
        if fault is None:
            return
        request["fault"] = fault.kind
        kind = fault.kind
        if kind is FaultKind.SERVER_ERROR:
            status = fault.status or 500
            raise _Fail(status, "Server error", f"injected {status}")
        if kind is FaultKind.RATE_LIMIT:
            retry_after = str(math.ceil(self.faults.retry_after))
            raise _Fail(429, "Too Many Requests", "rate limited", {"Retry-After": retry_after})
        if kind is FaultKind.RESET_BEFORE:
            raise _Abort
        if kind is FaultKind.HTML_ERROR:
            raise _Reply(web.Response(status=502, text=_HTML_502, content_type="text/html"))
        if kind is FaultKind.SLOW:
            await asyncio.sleep(self.faults.slow_delay)

    async def _json_body(self, request: web.Request) -> dict[str, Any]:
        try:
            body = await request.json()
        except (ValueError, UnicodeDecodeError):
            raise _Fail(400, "Bad Request", "body is not valid JSON") from None
        if not isinstance(body, dict):
            raise _Fail(400, "Bad Request", "body must be a JSON object")
        return body

    def _step_envelope(self, user: SandboxUser) -> dict[str, Any]:
        step = self.scenario.steps[user.step]
        return {
            "code": 200,
            "data": self._step_data[user.step],
            "done": False,
            "uuid": user.procedure,
            "workflow": step.workflow,
        }

    def _entry_json(self, user: SandboxUser, entry: HistoryEntry) -> dict[str, Any]:
        quirks = self.scenario.quirks
        levels = self.scenario.levels
        level = levels[entry.level]
        previous = None
        if entry.previous is not None:
            prev = levels[entry.previous]
            previous = {"id": prev.id, "name": prev.name}
        reason: int | str
        if quirks.reason_name_as_int:
            reason = entry.application
        else:
            reason = f"Application: {entry.application}" if entry.application else "created"
        return {
            "id": entry.id,
            "clientId": user.id,
            "currentLevel": {"id": level.id, "name": level.name},
            quirks.previous_level_key: previous,
            "reason": {"name": reason},
            "userId": "1" if quirks.user_id_as_string else 1,
            "createTime": _iso(entry.create_time),
        }

    # ---- verification routes -----------------------------------------------------------------

    async def _history(self, request: web.Request) -> web.StreamResponse:
        user = self._authenticate(request)
        await self._inject(request, "history", user)
        query = request.query
        try:
            limit = int(query.get("limit", "10"))
            offset = int(query.get("offset", "0"))
        except ValueError:
            raise _Fail(400, "Bad Request", "limit and offset must be integers") from None
        if not 1 <= limit <= 1000 or offset < 0:
            raise _Fail(400, "Bad Request", "limit must be 1..1000 and offset >= 0")
        if query.get("sort_by", "createTime") != "createTime":
            raise _Fail(400, "Bad Request", "sort_by must be createTime")
        order = query.get("sort_order", "desc")
        if order not in ("asc", "desc"):
            raise _Fail(400, "Bad Request", "sort_order must be asc or desc")
        entries = sorted(user.history, key=lambda e: (e.create_time, e.id), reverse=order == "desc")
        rendered = [self._entry_json(user, e) for e in entries]
        filters = {
            key[7:-1]: value
            for key, value in query.items()
            if key.startswith("filter[") and key.endswith("]")
        }
        for name, wanted in filters.items():
            rendered = [e for e in rendered if _matches(e, name, wanted)]
        page = rendered[offset : offset + limit]
        return web.json_response({"total": len(rendered), "data": page})

    async def _details(self, request: web.Request) -> web.StreamResponse:
        user = self._authenticate(request)
        await self._inject(request, "details", user)
        wanted = int(request.match_info["vid"])
        for entry in user.history:
            if entry.id == wanted:
                body = self._entry_json(user, entry)
                if self.scenario.quirks.details_envelope:
                    return web.json_response({"total": 1, "data": [body]})
                return web.json_response(body)
        raise _Fail(404, "Not Found", f"verification {wanted} not found")

    async def _wizard(self, request: web.Request) -> web.StreamResponse:
        user = self._authenticate(request)
        await self._inject(request, "wizard", user)
        if user.procedure is None:
            if user.level >= len(self.scenario.levels) - 1:
                return web.json_response(
                    {
                        "code": 202,
                        "data": None,
                        "done": True,
                        "uuid": str(uuid_mod.uuid4()),
                        "workflow": self.scenario.final_workflow,
                    }
                )
            user.procedure = str(uuid_mod.uuid4())
            user.step = 0
        return web.json_response(self._step_envelope(user))

    async def _submit_slash(self, request: web.Request) -> web.StreamResponse:
        if self.scenario.quirks.submit_trailing_slash == "redirect":
            raise web.HTTPPermanentRedirect(API_PREFIX + "/v2/my/verifications")
        return await self._submit(request)

    async def _submit(self, request: web.Request) -> web.StreamResponse:
        user = self._authenticate(request)
        await self._inject(request, "submit", user)
        body = await self._json_body(request)
        data = body.get("data")
        if not isinstance(data, dict):
            raise _Fail(400, "Bad Request", "data is required")
        documents = data.get("documents")
        procedure = data.get("uuid")
        if not isinstance(procedure, str) or not procedure:
            raise _Fail(400, "Bad Request", "uuid is required")
        if not isinstance(documents, dict):
            raise _Fail(400, "Bad Request", "documents is required")
        type_id = documents.get("type")
        files = documents.get("files")
        if not isinstance(type_id, int) or isinstance(type_id, bool):
            raise _Fail(400, "Bad Request", "documents.type must be an integer")
        if not isinstance(files, list) or not all(isinstance(f, str) for f in files):
            raise _Fail(400, "Bad Request", "documents.files must be a list of strings")
        key = (procedure, type_id, tuple(sorted(files)))
        if key in user.committed:
            self.records.duplicate_log.append(
                Duplicate(user.email, procedure, type_id, tuple(files), time.time())
            )
            raise _Fail(409, "Conflict", "this step was already submitted")
        if user.procedure is None or procedure != user.procedure:
            raise _Fail(400, "Bad Request", "uuid is not the open verification procedure")
        step = self.scenario.steps[user.step]
        doc_type = step.type_by_id(type_id)
        if doc_type is None:
            raise _Fail(400, "Bad Request", f"document type {type_id} is not asked for")
        if not doc_type.enabled:
            raise _Fail(400, "Bad Request", f"document type {type_id} is disabled")
        if len(files) < doc_type.min_files:
            raise _Fail(
                400, "Bad Request", f"document type {type_id} needs {doc_type.min_files} files"
            )
        for path in files:
            content_type = user.files.get(path)
            if content_type is None:
                raise _Fail(400, "Bad Request", "a file is not one of your uploads")
            if doc_type.content_types is not None and content_type not in doc_type.content_types:
                raise _Fail(400, "Bad Request", f"a file's type is not allowed for {type_id}")
        if step.stall:
            return web.json_response(self._step_envelope(user))
        user.committed.add(key)
        index = user.step
        user.step += 1
        completed = user.step == len(self.scenario.steps)
        now = time.time()
        self.records.submission_log.append(
            Submission(user.email, procedure, index, type_id, tuple(files), now, completed)
        )
        if not completed:
            return web.json_response(self._step_envelope(user))
        self._next_application += 1
        self._next_verification += 1
        user.history.append(
            HistoryEntry(
                self._next_verification, user.level + 1, user.level, self._next_application, now
            )
        )
        user.level += 1
        user.procedure = None
        user.step = 0
        return web.json_response(
            {
                "code": 202,
                "data": {"types": []},
                "done": True,
                "uuid": procedure,
                "workflow": self.scenario.final_workflow,
            }
        )

    async def _upload(self, request: web.Request) -> web.StreamResponse:
        user = self._authenticate(request)
        await self._inject(request, "upload", user)
        if not request.content_type.startswith("multipart/"):
            raise _Fail(400, "Bad Request", "the upload must be multipart/form-data")
        try:
            reader = await request.multipart()
            part = await reader.next()
            while part is not None:
                if isinstance(part, BodyPartReader) and part.name == "file":
                    return await self._store(user, part)
                await part.release()
                part = await reader.next()
        except _Fail:
            raise
        except Exception:
            # Whatever the multipart parser raises, the request was malformed.
            raise _Fail(400, "Bad Request", "malformed multipart body") from None
        raise _Fail(400, "Bad Request", "no part named 'file'")

    async def _store(self, user: SandboxUser, part: BodyPartReader) -> web.StreamResponse:
        # aiohttp's FormData percent-quotes the filename parameter; browsers send it raw.
        filename = urllib.parse.unquote(part.filename or "")
        if not filename:
            raise _Fail(400, "Bad Request", "the file part needs a filename")
        content_type = part.headers.get(hdrs.CONTENT_TYPE, "application/octet-stream")
        digest = hashlib.sha256()
        size = 0
        while chunk := await part.read_chunk(self.upload_chunk_bytes):
            size += len(chunk)
            if size > self.max_upload_bytes:
                raise _Fail(
                    413, "Payload Too Large", f"the file is over {self.max_upload_bytes} bytes"
                )
            digest.update(chunk)
        if size == 0:
            raise _Fail(400, "Bad Request", "the file is empty")
        self._next_upload += 1
        safe = _SAFE_NAME.sub("_", filename)[-64:] or "file"
        path = f"u{user.id}/{int(time.time())}_{self._next_upload}_{safe}"
        user.files[path] = content_type
        self.records.upload_log.append(
            UploadRecord(
                user.email, path, filename, content_type, size, digest.hexdigest(), time.time()
            )
        )
        body: dict[str, Any] = {"file": path}
        if not self.scenario.quirks.upload_top_level_file:
            body = {"data": body}
        return web.json_response(body, status=201)

    # ---- sign-in routes ----------------------------------------------------------------------

    async def _signin_wizard(self, request: web.Request) -> web.StreamResponse:
        await self._inject(request, "signin_wizard", "-")
        if len(self._signins) >= MAX_PENDING_SIGNINS:
            del self._signins[next(iter(self._signins))]
        procedure = str(uuid_mod.uuid4())
        self._signins[procedure] = None
        return web.json_response(
            {
                "code": 200,
                "data": None,
                "done": False,
                "uuid": procedure,
                "workflow": SIGNIN_WORKFLOW,
            }
        )

    def _tokens_envelope(self, procedure: str, tokens: dict[str, Any]) -> web.Response:
        return web.json_response(
            {
                "code": 202,
                "data": tokens,
                "done": True,
                "uuid": procedure,
                "workflow": AUTH_WORKFLOW,
            }
        )

    async def _signin(self, request: web.Request) -> web.StreamResponse:
        body = await self._json_body(request)
        email = body.get("email")
        if not isinstance(email, str) or not email:
            raise _Fail(400, "Bad Request", "email is required")
        request["user"] = email
        await self._inject(request, "signin", email)
        if self.throttle is not None:
            blocked = self.throttle.check(email)
            if blocked is not None:
                raise _Fail(
                    429,
                    "Too Many Requests",
                    "too many sign-in attempts",
                    {"Retry-After": str(math.ceil(blocked))},
                )
        procedure = body.get("uuid")
        if not isinstance(procedure, str) or procedure not in self._signins:
            raise _Fail(400, "Bad Request", "uuid is not an open sign-in wizard")
        if self.require_fingerprint and not _valid_fingerprint(body.get("device_fingerprint")):
            raise _Fail(400, "Bad Request", "device_fingerprint must be Base64 of a JSON object")
        user = self._users.get(email)
        password = body.get("password")
        if (
            user is None
            or not isinstance(password, str)
            or not secrets.compare_digest(password.encode(), user.password.encode())
        ):
            raise _Fail(401, "Unauthorized", "wrong email or password")
        if user.second_factor is not None:
            self._signins[procedure] = user
            return web.json_response(
                {
                    "code": 200,
                    "data": {"type": user.second_factor},
                    "done": False,
                    "uuid": procedure,
                    "workflow": SIGNIN_WORKFLOW,
                }
            )
        del self._signins[procedure]
        return self._tokens_envelope(procedure, self._issue(user, time.time()))

    async def _second_factor(self, request: web.Request) -> web.StreamResponse:
        kind = request.match_info["kind"]
        if kind not in SECOND_FACTORS:
            raise _Fail(404, "Not Found", f"unknown second factor {kind!r}")
        body = await self._json_body(request)
        procedure = body.get("uuid")
        user = self._signins.get(procedure) if isinstance(procedure, str) else None
        if user is None or not isinstance(procedure, str):
            raise _Fail(400, "Bad Request", "uuid is not awaiting a second factor")
        request["user"] = user.email
        await self._inject(request, "2fa", user)
        if user.second_factor != kind:
            raise _Fail(400, "Bad Request", f"this sign-in expects {user.second_factor}")
        code = body.get("code")
        if not isinstance(code, str | int) or str(code) != user.code:
            raise _Fail(401, "Unauthorized", "wrong code")
        del self._signins[procedure]
        return self._tokens_envelope(procedure, self._issue(user, time.time()))

    async def _refresh_tokens(self, request: web.Request) -> web.StreamResponse:
        body = await self._json_body(request)
        token = body.get("refreshToken")
        user = self._refresh.get(token) if isinstance(token, str) else None
        if user is None:
            raise _Fail(401, "Unauthorized", "invalid refresh token")
        request["user"] = user.email
        await self._inject(request, "refresh", user)
        now = time.time()
        if now >= user.refresh_expires:
            raise _Fail(401, "Unauthorized", "refresh token expired")
        rotate = self.scenario.quirks.refresh_returns_refresh_token
        return self._tokens_envelope(
            str(uuid_mod.uuid4()), self._issue(user, now, rotate_refresh=rotate)
        )

    # ---- admin routes ------------------------------------------------------------------------

    async def _admin_users(self, request: web.Request) -> web.StreamResponse:
        body = await self._json_body(request) if request.can_read_body else {}
        try:
            count = int(body.get("count", 1))
            if count < 1:
                raise ValueError("count must be >= 1")
            if count > 1 and body.get("email"):
                raise ValueError("email only with count 1")
            kwargs: dict[str, Any] = {
                "password": body.get("password"),
                "second_factor": body.get("second_factor"),
                "code": str(body.get("code", DEFAULT_2FA_CODE)),
                "level": None if body.get("level") is None else int(body["level"]),
            }
            users = [self.create_user(body.get("email"), **kwargs) for _ in range(count)]
        except (ValueError, TypeError) as exc:
            raise _Fail(400, "Bad Request", str(exc)) from None
        return web.json_response(
            {
                "users": [
                    {
                        "id": u.id,
                        "email": u.email,
                        "password": u.password,
                        "second_factor": u.second_factor,
                        "code": u.code,
                        "access_token": u.access_token,
                        "refresh_token": u.refresh_token,
                    }
                    for u in users
                ]
            },
            status=201,
        )

    async def _admin_records(self, request: web.Request) -> web.StreamResponse:
        full = request.query.get("requests") in ("1", "true", "yes")
        return web.json_response(self.records.summary(include_requests=full))

    async def _admin_get_faults(self, request: web.Request) -> web.StreamResponse:
        return web.json_response(self.faults.to_dict())

    async def _admin_set_faults(self, request: web.Request) -> web.StreamResponse:
        body = await self._json_body(request)
        try:
            faults = Faults.from_dict(body)
        except (ValueError, TypeError, KeyError) as exc:
            raise _Fail(400, "Bad Request", f"invalid faults: {exc}") from None
        self.set_faults(faults)
        return web.json_response(faults.to_dict())

    async def _admin_reset(self, request: web.Request) -> web.StreamResponse:
        self.reset()
        return web.json_response({"ok": True})

    async def _admin_expire(self, request: web.Request) -> web.StreamResponse:
        body = await self._json_body(request)
        email = body.get("email")
        if not isinstance(email, str) or email not in self._users:
            raise _Fail(404, "Not Found", "no such user")
        self.expire_token(email)
        return web.json_response({"ok": True})

    async def _admin_scenario(self, request: web.Request) -> web.StreamResponse:
        return web.json_response(self.scenario.to_dict())


def _matches(entry: Mapping[str, Any], name: str, wanted: str) -> bool:
    if name not in entry:
        return True  # unknown filter fields are ignored, as lenient servers do
    value = entry[name]
    if isinstance(value, dict):
        return wanted in (str(value.get("id")), str(value.get("name")))
    if value is None:
        return wanted in ("", "null")
    return str(value) == wanted
