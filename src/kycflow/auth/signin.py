"""``sign_in``: the sign-in wizard (password, then a second factor, possibly chosen first) ending
in a refreshing ``SessionAuth``. Sign-in calls are never retried except after a provable
connect error: the vendor locks accounts out after repeated tries."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from pydantic import SecretStr

from .._constants import TOKEN_REFRESH_MARGIN
from .._http.secrets import Secret
from .._logging import get_logger
from ..errors import ConfigurationError, ProtocolError
from ..models import TokenPair
from .base import Requester, SupportsRequester, requester_of, secret
from .session import RefreshCallback, SessionAuth
from .tokens import default_device_fingerprint, tokens_from_reply

__all__ = [
    "FACTOR_CHOICE_PATH",
    "SECOND_FACTOR_PATH",
    "SIGNIN_PATH",
    "SIGNIN_WIZARD_PATH",
    "FactorChoiceCallback",
    "SecondFactorCallback",
    "sign_in",
]

SIGNIN_WIZARD_PATH = "/v2/my/signin/wizard"
SIGNIN_PATH = "/v2/my/signin"
SECOND_FACTOR_PATH = "/v2/my/2fa/{kind}"
FACTOR_CHOICE_PATH = "/v2/my/signin/2fa"
_CHOICE_KEYS = ("factors", "types", "choices", "available", "methods")
_MAX_SIGNIN_STEPS = 4
_FACTOR_KIND = re.compile(r"^[A-Za-z0-9_-]{1,32}$")

SecondFactorCallback = Callable[[str], Awaitable[str]]
FactorChoiceCallback = Callable[[Sequence[str]], Awaitable[str]]

_log = get_logger()


async def sign_in(
    target: Requester | SupportsRequester,
    email: str,
    password: str | SecretStr,
    *,
    second_factor: SecondFactorCallback | None = None,
    device_fingerprint: str | None = None,
    on_refresh: RefreshCallback | None = None,
    refresh_margin: float = TOKEN_REFRESH_MARGIN,
    choose_factor: FactorChoiceCallback | None = None,
) -> SessionAuth:
    """Sign in through the sign-in wizard and return a refreshing ``SessionAuth``.

    ``second_factor(kind)`` (kind is ``"google"``, ``"sms"``, ``"email"``...) is awaited when
    the server asks for a second factor and must return the code. A deployment that first asks
    which factor to use gets ``choose_factor(offered)``'s answer (default: the first offered)
    through ``POST /v2/my/signin/2fa``. Sign-in calls are never retried except
    after a provable connect error: a 429 raises ``RateLimitError`` at once, a wrong password
    ``AuthenticationError``.
    """
    password = secret(password, "password")  # rebound first: no frame keeps the raw value
    requester = requester_of(target)
    fingerprint = device_fingerprint or default_device_fingerprint()
    start = await requester("GET", SIGNIN_WIZARD_PATH, sign_in=True)
    _, _, _, uuid = _envelope(start, SIGNIN_WIZARD_PATH)
    if uuid is None:
        raise ProtocolError(
            "the sign-in wizard gave no uuid", method="GET", path=SIGNIN_WIZARD_PATH
        )
    flow = _SignInFlow(requester, uuid, second_factor, choose_factor)
    pair = await flow.finish(
        await requester(
            "POST",
            SIGNIN_PATH,
            json={
                "uuid": uuid,
                "email": email,
                "password": Secret(password.get_secret_value()),
                "device_fingerprint": fingerprint,
            },
            sign_in=True,
        )
    )
    _log.info("auth.sign_in", second_factor=flow.path != SIGNIN_PATH)
    return SessionAuth.from_tokens(
        pair, on_refresh=on_refresh, device_fingerprint=fingerprint, refresh_margin=refresh_margin
    )


class _SignInFlow:
    """The wizard after the password: follows its pages until the tokens come."""

    def __init__(
        self,
        requester: Requester,
        uuid: str,
        second_factor: SecondFactorCallback | None,
        choose_factor: FactorChoiceCallback | None,
    ) -> None:
        self.requester = requester
        self.uuid = uuid
        self.path = SIGNIN_PATH
        self.chosen: str | None = None
        self.second_factor = second_factor
        self.choose_factor = choose_factor

    async def finish(self, reply: Any) -> TokenPair:
        """The tokens ending the wizard whose reply to the password is ``reply``."""
        for _ in range(_MAX_SIGNIN_STEPS):
            code, data, _done, reply_uuid = _envelope(reply, self.path)
            self.uuid = reply_uuid or self.uuid
            # Only code 202 ends a wizard (NOTES.md); ``done`` on a 200 means the step succeeded
            # (the password was right) and a second factor follows. A 200 with tokens ends it too.
            if code == 202 or (isinstance(data, dict) and "accessToken" in data):
                try:
                    return tokens_from_reply(reply, self.path)
                finally:
                    del reply, data  # token values: not for a traceback rendering locals
            reply = await self._next(code, data)
        raise ProtocolError("sign-in did not finish", method="POST", path=self.path)

    async def _next(self, code: int | None, data: Any) -> Any:
        """Answer a page asking for a factor choice or a second-factor code."""
        kind = data.get("type") if isinstance(data, dict) else None
        if self.path == FACTOR_CHOICE_PATH and code == 200 and not isinstance(kind, str):
            kind = self.chosen  # the choice was acknowledged without naming it again
        choices = _factor_choices(data) if code == 200 and not isinstance(kind, str) else []
        if choices and self.path != FACTOR_CHOICE_PATH:
            choose = self.choose_factor
            self.chosen = chosen = await choose(choices) if choose is not None else choices[0]
            if chosen not in choices:
                raise ConfigurationError(
                    f"choose_factor returned {chosen!r}, not one of {', '.join(choices)}"
                )
            self.path = FACTOR_CHOICE_PATH
            choice = {"uuid": self.uuid, "type": chosen}
            return await self.requester("POST", self.path, json=choice, sign_in=True)
        if code != 200 or not isinstance(kind, str) or not _FACTOR_KIND.match(kind):
            raise ProtocolError(
                "the sign-in reply is neither tokens nor a second-factor request",
                method="POST",
                path=self.path,
            )
        if self.second_factor is None:
            raise ConfigurationError(
                f"the server asks for a second factor ({kind}) but no second_factor was given"
            )
        factor_code = Secret(str(await self.second_factor(kind)))
        self.path = SECOND_FACTOR_PATH.format(kind=kind)
        answer = {"uuid": self.uuid, "code": factor_code}
        return await self.requester("POST", self.path, json=answer, sign_in=True)


def _factor_choices(data: Any) -> list[str]:
    """The second factors a factor-choice step offers (``{"factors": [...]}`` and kin)."""
    offered: Any = data
    if isinstance(data, dict):
        offered = next((data[k] for k in _CHOICE_KEYS if isinstance(data.get(k), list)), None)
    if not isinstance(offered, list):
        return []
    kinds = []
    for item in offered:
        kind = item.get("type") or item.get("name") if isinstance(item, dict) else item
        if isinstance(kind, str) and _FACTOR_KIND.match(kind):
            kinds.append(kind)
    return kinds


def _envelope(reply: Any, path: str) -> tuple[int | None, Any, bool, str | None]:
    if not isinstance(reply, dict):
        raise ProtocolError("the sign-in reply is not a wizard envelope", method="POST", path=path)
    code = reply.get("code")
    uuid = reply.get("uuid")
    return (
        code if isinstance(code, int) and not isinstance(code, bool) else None,
        reply.get("data"),
        reply.get("done") is True,
        uuid if isinstance(uuid, str) and uuid else None,
    )
