"""Authentication: a static bearer token, a refreshing session, and sign-in.

Auth talks to the API only through a ``Requester`` (given by the client); it never imports the
transport. Token values are kept as ``SecretStr`` and never appear in a repr, log or error.
"""

from __future__ import annotations

import asyncio
import base64
import inspect
import json
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, runtime_checkable

from pydantic import SecretStr, ValidationError

from .._constants import TOKEN_REFRESH_MARGIN, USER_AGENT
from .._http.secrets import Secret, SecretHeader
from .._logging import get_logger
from ..errors import ConfigurationError, ProtocolError
from ..models import Token, TokenPair
from .refresh import RefreshRejected, SignedOut, refresh_reply, signed_out_error

__all__ = [
    "Auth",
    "BearerToken",
    "FactorChoiceCallback",
    "Requester",
    "SecondFactorCallback",
    "SessionAuth",
    "SupportsRequester",
    "default_device_fingerprint",
    "sign_in",
]

SIGNIN_WIZARD_PATH = "/v2/my/signin/wizard"
SIGNIN_PATH = "/v2/my/signin"
SECOND_FACTOR_PATH = "/v2/my/2fa/{kind}"
FACTOR_CHOICE_PATH = "/v2/my/signin/2fa"
_CHOICE_KEYS = ("factors", "types", "choices", "available", "methods")
REFRESH_PATH = "/v2/my/refresh"
_MAX_SIGNIN_STEPS = 4
_FACTOR_KIND = re.compile(r"^[A-Za-z0-9_-]{1,32}$")

_log = get_logger()


class Requester(Protocol):
    """How auth reaches the API: one unauthenticated JSON call, decoded, errors raised.

    ``sign_in=True`` marks a sign-in call: it must never be retried except after a provable
    connect error (the vendor locks accounts out after repeated tries).
    """

    async def __call__(
        self,
        method: str,
        path: str,
        *,
        json: Mapping[str, Any] | None = None,
        sign_in: bool = False,
    ) -> Any: ...


class SupportsRequester(Protocol):
    """Anything that can hand out a ``Requester`` (a ``kycflow.Client``)."""

    def auth_requester(self) -> Requester: ...


@runtime_checkable
class Auth(Protocol):
    """What the client asks of an authentication scheme."""

    async def headers(self, requester: Requester) -> Mapping[str, str]:
        """Headers to send now (refreshing first if the token is about to expire)."""
        ...

    async def on_unauthorized(self, requester: Requester, sent: Mapping[str, str]) -> bool:
        """Called after a 401 for a request sent with ``sent``: True if it should be replayed."""
        ...


def _secret(value: str | SecretStr, what: str) -> SecretStr:
    secret = value if isinstance(value, SecretStr) else SecretStr(value)
    raw = secret.get_secret_value()
    if not isinstance(raw, str) or not raw or any(c in raw for c in "\r\n"):
        raise ConfigurationError(f"{what} must be a non-empty single-line string")
    return secret


class BearerToken:
    """A fixed access token sent as ``Authorization: Bearer <token>``; never refreshed."""

    __slots__ = ("_token",)

    def __init__(self, token: str | SecretStr) -> None:
        self._token = _secret(token, "token")

    @property
    def token(self) -> SecretStr:
        """The token (a ``SecretStr``: call ``get_secret_value()`` to read it)."""
        return self._token

    def __repr__(self) -> str:
        return "BearerToken(token=SecretStr('**********'))"

    async def headers(self, requester: Requester) -> Mapping[str, str]:
        """The Authorization header."""
        return {"Authorization": SecretHeader(f"Bearer {self._token.get_secret_value()}")}

    async def on_unauthorized(self, requester: Requester, sent: Mapping[str, str]) -> bool:
        """A fixed token cannot be renewed: never replay."""
        return False


def default_device_fingerprint(user_agent: str = USER_AGENT) -> str:
    """Base64 of ``{"user_agent": ...}``, the vendor's minimal device fingerprint."""
    raw = json.dumps({"user_agent": user_agent}, separators=(",", ":")).encode()
    return base64.b64encode(raw).decode("ascii")


RefreshCallback = Callable[[TokenPair], Awaitable[None] | None]
Clock = Callable[[], datetime]


def _utcnow() -> datetime:
    return datetime.now(UTC)


class SessionAuth:
    """An access token plus a refresh token, renewed via ``POST /v2/my/refresh``.

    The token is refreshed shortly (``refresh_margin`` seconds, but at most a quarter of the
    token's lifetime, so a short-lived token is not refreshed on every call) before
    ``expires_at``, and once after a 401. However many requests wait on it, one refresh is in
    flight at a time: waiters re-check the token under a lock and reuse a refresh that happened
    meanwhile.
    ``on_refresh(pair)`` (sync or async) is called after each refresh so an application can
    persist the new tokens (a refresh token the server returns as null keeps the old one).
    """

    def __init__(
        self,
        access_token: str | SecretStr,
        refresh_token: str | SecretStr | None = None,
        *,
        expires_at: datetime | None = None,
        created_at: datetime | None = None,
        refresh_expires_at: datetime | None = None,
        on_refresh: RefreshCallback | None = None,
        device_fingerprint: str | None = None,
        refresh_margin: float = TOKEN_REFRESH_MARGIN,
        clock: Clock | None = None,
    ) -> None:
        self._access = _secret(access_token, "access token")
        self._refresh: SecretStr | None = (
            None if refresh_token is None else _secret(refresh_token, "refresh token")
        )
        self._expires_at = _aware(expires_at)
        self._refresh_expires_at = _aware(refresh_expires_at)
        self._on_refresh = on_refresh
        self._fingerprint = device_fingerprint or default_device_fingerprint()
        self._margin = timedelta(seconds=refresh_margin)
        self._clock = clock or _utcnow
        self._refresh_at = self._refresh_time(_aware(created_at))
        self._lock = asyncio.Lock()
        self.refresh_count = 0
        self._signed_out: SignedOut | None = None

    @classmethod
    def from_tokens(cls, pair: TokenPair, **kwargs: Any) -> SessionAuth:
        """A session from the tokens sign-in or refresh returned."""
        refresh = pair.refresh_token
        return cls(
            pair.access_token.token,
            None if refresh is None else refresh.token,
            expires_at=pair.access_token.expires_at,
            created_at=pair.access_token.created_at,
            refresh_expires_at=None if refresh is None else refresh.expires_at,
            **kwargs,
        )

    def __repr__(self) -> str:
        return (
            f"SessionAuth(access_token=SecretStr('**********'), "
            f"refresh_token={'SecretStr(...)' if self._refresh else None}, "
            f"expires_at={self._expires_at!r})"
        )

    @property
    def tokens(self) -> TokenPair:
        """The current tokens (values are ``SecretStr``)."""
        return TokenPair(
            access_token=Token(token=self._access, expires_at=self._expires_at),
            refresh_token=None
            if self._refresh is None
            else Token(token=self._refresh, expires_at=self._refresh_expires_at),
        )

    @property
    def signed_out(self) -> bool:
        """True once the server refused the refresh token: every call now raises
        ``AuthenticationError``; sign the user in again for a new session."""
        return self._signed_out is not None

    @property
    def expires_at(self) -> datetime | None:
        """When the access token expires, if the server said."""
        return self._expires_at

    def _header_value(self) -> str:
        # A redacted repr: error trackers rendering frame locals print no token.
        return SecretHeader(f"Bearer {self._access.get_secret_value()}")

    def _refresh_time(self, created_at: datetime | None) -> datetime | None:
        if self._expires_at is None:
            return None
        if created_at is None:
            return self._expires_at - self._margin
        lifetime = max(self._expires_at - created_at, timedelta(0))
        return self._expires_at - min(self._margin, lifetime / 4)

    def _due(self) -> bool:
        if self._refresh_at is None or self._refresh is None:
            return False
        return self._clock() >= self._refresh_at

    async def headers(self, requester: Requester) -> Mapping[str, str]:
        """The Authorization header, refreshing first when the token is about to expire."""
        if self._signed_out is not None:
            raise signed_out_error(self._signed_out, REFRESH_PATH)
        if self._due():
            await self._refresh_from(requester, self._header_value())
        return {"Authorization": self._header_value()}

    async def on_unauthorized(self, requester: Requester, sent: Mapping[str, str]) -> bool:
        """Refresh once after a 401 (or reuse a refresh that happened since ``sent``)."""
        if self._signed_out is not None:
            raise signed_out_error(self._signed_out, REFRESH_PATH)
        if self._refresh is None:
            return False
        return await self._refresh_from(requester, sent.get("Authorization"))

    async def refresh(self, requester: Requester | SupportsRequester) -> None:
        """Refresh now, whatever the expiry."""
        await self._refresh_from(_requester_of(requester), self._header_value())

    async def _refresh_from(self, requester: Requester, stale: str | None) -> bool:
        async with self._lock:
            if stale != self._header_value():
                return True  # another task refreshed while this one waited
            if self._refresh is None:
                return False
            if self._signed_out is not None:
                raise signed_out_error(self._signed_out, REFRESH_PATH)
            body = {
                "refreshToken": Secret(self._refresh.get_secret_value()),
                "deviceFingerprint": self._fingerprint,
            }
            try:
                # A lost reply is retried with the same token; a refused token ends the session.
                # The reply (new tokens) is never bound to a local a rendered traceback would show.
                pair = _tokens_from_reply(
                    await refresh_reply(lambda b: requester("POST", REFRESH_PATH, json=b), body),
                    REFRESH_PATH,
                )
            except RefreshRejected as exc:
                self._signed_out = exc.why
                _log.warning("auth.signed_out", status=exc.why[0], reply_lost=exc.why[2])
                raise signed_out_error(exc.why, REFRESH_PATH) from exc.cause
            self._access = pair.access_token.token
            self._expires_at = pair.access_token.expires_at
            self._refresh_at = self._refresh_time(pair.access_token.created_at)
            if pair.refresh_token is not None:
                self._refresh = pair.refresh_token.token
                self._refresh_expires_at = pair.refresh_token.expires_at
            self.refresh_count += 1
            _log.info("auth.refresh", expires_at=_iso(self._expires_at))
            if self._on_refresh is not None:
                try:
                    outcome = self._on_refresh(self.tokens)
                    if inspect.isawaitable(outcome):
                        await outcome
                except Exception as exc:  # persisting is the app's concern; the call goes on
                    _log.warning("auth.on_refresh_failed", error_type=type(exc).__name__)
            return True


def _aware(value: datetime | None) -> datetime | None:
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _tokens_from_reply(reply: Any, path: str) -> TokenPair:
    data = reply.get("data") if isinstance(reply, dict) else None
    if not isinstance(data, dict):
        raise ProtocolError("the server's reply carries no tokens", method="POST", path=path)
    body = dict(data)
    for key in ("accessToken", "refreshToken"):
        if isinstance(body.get(key), str):
            body[key] = {"token": body[key]}
    try:
        return TokenPair.model_validate(body)
    except ValidationError:
        pass
    del reply, data, body  # they hold token values: not for a traceback rendering locals
    # No pydantic error, not even as ``__context__``: it would quote the token values.
    raise ProtocolError("the server's token reply does not fit TokenPair", method="POST", path=path)


def _requester_of(target: Requester | SupportsRequester) -> Requester:
    factory = getattr(target, "auth_requester", None)
    if callable(factory):
        requester: Requester = factory()
        return requester
    if callable(target):
        return target
    raise ConfigurationError("sign_in needs a kycflow.Client or a Requester")


SecondFactorCallback = Callable[[str], Awaitable[str]]
FactorChoiceCallback = Callable[[Sequence[str]], Awaitable[str]]


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
    password = _secret(password, "password")  # rebound first: no frame keeps the raw value
    requester = _requester_of(target)
    fingerprint = device_fingerprint or default_device_fingerprint()
    start = await requester("GET", SIGNIN_WIZARD_PATH, sign_in=True)
    _, _, _, uuid = _envelope(start, SIGNIN_WIZARD_PATH)
    if uuid is None:
        raise ProtocolError(
            "the sign-in wizard gave no uuid", method="GET", path=SIGNIN_WIZARD_PATH
        )
    path = SIGNIN_PATH
    chosen: str | None = None
    reply = await requester(
        "POST",
        path,
        json={
            "uuid": uuid,
            "email": email,
            "password": Secret(password.get_secret_value()),
            "device_fingerprint": fingerprint,
        },
        sign_in=True,
    )
    for _ in range(_MAX_SIGNIN_STEPS):
        code, data, _done, reply_uuid = _envelope(reply, path)
        uuid = reply_uuid or uuid
        # Only code 202 ends a wizard (NOTES.md); ``done`` on a 200 means the step succeeded
        # (the password was right) and a second factor follows. A 200 carrying tokens ends it too.
        if code == 202 or (isinstance(data, dict) and "accessToken" in data):
            try:
                pair = _tokens_from_reply(reply, path)
            finally:
                del reply, data  # token values: not for a traceback rendering locals
            _log.info("auth.sign_in", second_factor=path != SIGNIN_PATH)
            return SessionAuth.from_tokens(
                pair,
                on_refresh=on_refresh,
                device_fingerprint=fingerprint,
                refresh_margin=refresh_margin,
            )
        kind = data.get("type") if isinstance(data, dict) else None
        if path == FACTOR_CHOICE_PATH and code == 200 and not isinstance(kind, str):
            kind = chosen  # the choice was acknowledged without naming it again
        choices = _factor_choices(data) if code == 200 and not isinstance(kind, str) else []
        if choices and path != FACTOR_CHOICE_PATH:
            chosen = await choose_factor(choices) if choose_factor is not None else choices[0]
            if chosen not in choices:
                raise ConfigurationError(
                    f"choose_factor returned {chosen!r}, not one of {', '.join(choices)}"
                )
            path = FACTOR_CHOICE_PATH
            reply = await requester("POST", path, json={"uuid": uuid, "type": chosen}, sign_in=True)
            continue
        if code != 200 or not isinstance(kind, str) or not _FACTOR_KIND.match(kind):
            raise ProtocolError(
                "the sign-in reply is neither tokens nor a second-factor request",
                method="POST",
                path=path,
            )
        if second_factor is None:
            raise ConfigurationError(
                f"the server asks for a second factor ({kind}) but no second_factor was given"
            )
        factor_code = Secret(str(await second_factor(kind)))
        path = SECOND_FACTOR_PATH.format(kind=kind)
        reply = await requester(
            "POST", path, json={"uuid": uuid, "code": factor_code}, sign_in=True
        )
    raise ProtocolError("sign-in did not finish", method="POST", path=path)
