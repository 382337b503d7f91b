"""The sandbox's admin API under ``/_sandbox`` (users, records, faults, reset, expiry, scenario,
reviews)."""

from __future__ import annotations

import dataclasses
from typing import Any

from aiohttp import web

from ._http import Fail, json_body
from ._users import DEFAULT_2FA_CODE
from .faults import Faults
from .state import SandboxState

__all__ = ["AdminRoutes"]


class AdminRoutes:
    """Handlers of ``/_sandbox/...``; they work on the ``SandboxState`` given (loopback only)."""

    def __init__(self, state: SandboxState) -> None:
        self.state = state

    async def users(self, request: web.Request) -> web.StreamResponse:
        """``POST /users``: create one user (``email``...) or ``count`` generated ones."""
        body = await json_body(request) if request.can_read_body else {}
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
            users = [self.state.create_user(body.get("email"), **kwargs) for _ in range(count)]
        except (ValueError, TypeError) as exc:
            raise Fail(400, "Bad Request", str(exc)) from None
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

    async def records(self, request: web.Request) -> web.StreamResponse:
        """``GET /records``: the records' summary (``?requests=1`` adds the request log)."""
        full = request.query.get("requests") in ("1", "true", "yes")
        return web.json_response(self.state.records.summary(include_requests=full))

    async def get_faults(self, request: web.Request) -> web.StreamResponse:
        """``GET /faults``: the fault configuration."""
        return web.json_response(self.state.faults.to_dict())

    async def set_faults(self, request: web.Request) -> web.StreamResponse:
        """``POST /faults``: replace the fault configuration."""
        body = await json_body(request)
        try:
            faults = Faults.from_dict(body)
        except (ValueError, TypeError, KeyError) as exc:
            raise Fail(400, "Bad Request", f"invalid faults: {exc}") from None
        self.state.set_faults(faults)
        return web.json_response(faults.to_dict())

    async def reset(self, request: web.Request) -> web.StreamResponse:
        """``POST /reset``: forget users and records."""
        self.state.reset()
        return web.json_response({"ok": True})

    async def expire(self, request: web.Request) -> web.StreamResponse:
        """``POST /expire``: expire a user's access token."""
        body = await json_body(request)
        email = body.get("email")
        if not isinstance(email, str) or email not in self.state.users:
            raise Fail(404, "Not Found", "no such user")
        self.state.expire_token(email)
        return web.json_response({"ok": True})

    async def scenario(self, request: web.Request) -> web.StreamResponse:
        """``GET /scenario``: the scenario as data."""
        return web.json_response(self.state.scenario.to_dict())

    async def review(self, request: web.Request) -> web.StreamResponse:
        """``POST /review``: decide a user's pending review (``{email, decision, reason}``)."""
        body = await json_body(request)
        email = body.get("email")
        if not isinstance(email, str) or email not in self.state.users:
            raise Fail(404, "Not Found", "no such user")
        decision = body.get("decision", "grant")
        reason = body.get("reason")
        if decision not in ("grant", "refuse") or not isinstance(reason, str | None):
            raise Fail(400, "Bad Request", "decision must be grant or refuse; reason a string")
        try:
            record = self.state.decide(email, decision, reason)
        except KeyError:
            raise Fail(409, "Conflict", "no review pending for this user") from None
        return web.json_response(dataclasses.asdict(record))

    async def reviews(self, request: web.Request) -> web.StreamResponse:
        """``GET /reviews``: pending reviews and decisions."""
        return web.json_response(
            {
                "pending": [dataclasses.asdict(p) for p in self.state.pending_reviews()],
                "decided": [dataclasses.asdict(r) for r in self.state.review_log()],
            }
        )
