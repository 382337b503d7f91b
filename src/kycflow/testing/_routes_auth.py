"""The sandbox's auth routes: the sign-in wizard, sign-in, the second factor, token refresh."""

from __future__ import annotations

import base64
import binascii
import json
import math
import secrets
import time
import uuid as uuid_mod
from typing import Any

from aiohttp import web

from ._gate import inject
from ._http import USER_KEY, Fail, json_body
from ._users import SECOND_FACTORS
from .state import SandboxState

__all__ = ["AUTH_WORKFLOW", "MAX_PENDING_SIGNINS", "SIGNIN_WORKFLOW", "AuthRoutes"]

SIGNIN_WORKFLOW = "B2B\\TCA\\Wizards\\Workflow\\SigninWorkflow"
AUTH_WORKFLOW = "B2B\\TCA\\Wizards\\Workflow\\AuthWorkflow"
MAX_PENDING_SIGNINS = 100_000


class AuthRoutes:
    """Handlers of ``/v2/my/{signin,2fa,refresh}``; they work on the ``SandboxState`` given."""

    def __init__(self, state: SandboxState) -> None:
        self.state = state

    async def signin_wizard(self, request: web.Request) -> web.StreamResponse:
        """``GET /signin/wizard``: open a sign-in procedure."""
        await inject(self.state, request, "signin_wizard", "-")
        signins = self.state.signins
        if len(signins) >= MAX_PENDING_SIGNINS:
            del signins[next(iter(signins))]
        procedure = str(uuid_mod.uuid4())
        signins[procedure] = None
        return web.json_response(
            {
                "code": 200,
                "data": None,
                "done": False,
                "uuid": procedure,
                "workflow": SIGNIN_WORKFLOW,
            }
        )

    async def signin(self, request: web.Request) -> web.StreamResponse:
        """``POST /signin``: check the password; tokens, or the second factor to ask for."""
        state = self.state
        body = await json_body(request)
        email = body.get("email")
        if not isinstance(email, str) or not email:
            raise Fail(400, "Bad Request", "email is required")
        request[USER_KEY] = email
        await inject(self.state, request, "signin", email)
        if state.settings.throttle is not None:
            blocked = state.settings.throttle.check(email)
            if blocked is not None:
                raise Fail(
                    429,
                    "Too Many Requests",
                    "too many sign-in attempts",
                    {"Retry-After": str(math.ceil(blocked))},
                )
        procedure = body.get("uuid")
        if not isinstance(procedure, str) or procedure not in state.signins:
            raise Fail(400, "Bad Request", "uuid is not an open sign-in wizard")
        if state.settings.require_fingerprint and not _valid_fingerprint(
            body.get("device_fingerprint")
        ):
            raise Fail(400, "Bad Request", "device_fingerprint must be Base64 of a JSON object")
        user = state.users.get(email)
        password = body.get("password")
        if (
            user is None
            or not isinstance(password, str)
            or not secrets.compare_digest(password.encode(), user.password.encode())
        ):
            raise Fail(401, "Unauthorized", "wrong email or password")
        if user.second_factor is not None:
            state.signins[procedure] = user
            if state.scenario.quirks.signin_factor_choice:
                # Some deployments first ask which factor to use (POST /signin/2fa).
                return web.json_response(
                    {
                        "code": 200,
                        "data": {"factors": [user.second_factor]},
                        "done": False,
                        "uuid": procedure,
                        "workflow": SIGNIN_WORKFLOW,
                    }
                )
            return web.json_response(
                {
                    "code": 200,
                    "data": {"type": user.second_factor},
                    "done": False,
                    "uuid": procedure,
                    "workflow": SIGNIN_WORKFLOW,
                }
            )
        del state.signins[procedure]
        return _tokens_envelope(procedure, state.issue(user, time.time()))

    async def choose_factor(self, request: web.Request) -> web.StreamResponse:
        """``POST /signin/2fa``: the sign-in chooses its second factor; asks for its code."""
        state = self.state
        body = await json_body(request)
        procedure = body.get("uuid")
        user = state.signins.get(procedure) if isinstance(procedure, str) else None
        if user is None or not isinstance(procedure, str):
            raise Fail(400, "Bad Request", "uuid is not awaiting a second factor")
        request[USER_KEY] = user.email
        await inject(self.state, request, "2fa", user)  # faults: as the 2fa route
        kind = body.get("type")
        if kind != user.second_factor:
            raise Fail(400, "Bad Request", f"second factor {kind!r} is not available")
        return web.json_response(
            {
                "code": 200,
                "data": {"type": kind},
                "done": False,
                "uuid": procedure,
                "workflow": SIGNIN_WORKFLOW,
            }
        )

    async def second_factor(self, request: web.Request) -> web.StreamResponse:
        """``POST /2fa/{kind}``: check the code of a sign-in awaiting it; tokens."""
        state = self.state
        kind = request.match_info["kind"]
        if kind not in SECOND_FACTORS:
            raise Fail(404, "Not Found", f"unknown second factor {kind!r}")
        body = await json_body(request)
        procedure = body.get("uuid")
        user = state.signins.get(procedure) if isinstance(procedure, str) else None
        if user is None or not isinstance(procedure, str):
            raise Fail(400, "Bad Request", "uuid is not awaiting a second factor")
        request[USER_KEY] = user.email
        await inject(self.state, request, "2fa", user)
        if user.second_factor != kind:
            raise Fail(400, "Bad Request", f"this sign-in expects {user.second_factor}")
        code = body.get("code")
        if not isinstance(code, str | int) or str(code) != user.code:
            raise Fail(401, "Unauthorized", "wrong code")
        del state.signins[procedure]
        return _tokens_envelope(procedure, state.issue(user, time.time()))

    async def refresh(self, request: web.Request) -> web.StreamResponse:
        """``POST /refresh``: a new access token (and refresh token, per the scenario)."""
        state = self.state
        body = await json_body(request)
        token = body.get("refreshToken")
        user = state.by_refresh.get(token) if isinstance(token, str) else None
        if user is None:
            raise Fail(401, "Unauthorized", "invalid refresh token")
        request[USER_KEY] = user.email
        await inject(self.state, request, "refresh", user)
        now = time.time()
        if now >= user.refresh_expires:
            raise Fail(401, "Unauthorized", "refresh token expired")
        rotate = state.scenario.quirks.refresh_returns_refresh_token
        return _tokens_envelope(
            str(uuid_mod.uuid4()), state.issue(user, now, rotate_refresh=rotate)
        )


def _tokens_envelope(procedure: str, tokens: dict[str, Any]) -> web.Response:
    return web.json_response(
        {
            "code": 202,
            "data": tokens,
            "done": True,
            "uuid": procedure,
            "workflow": AUTH_WORKFLOW,
        }
    )


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
