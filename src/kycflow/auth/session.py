"""``SessionAuth``: an access token renewed with its refresh token (``POST /v2/my/refresh``),
one refresh in flight at a time, a lost reply survived (see ``refresh.py``)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import SecretStr

from .._callbacks import notify
from .._constants import TOKEN_REFRESH_MARGIN
from .._http.secrets import Secret, SecretHeader
from .._logging import get_logger
from ..models import Token, TokenPair
from .base import Requester, SupportsRequester, requester_of, secret
from .refresh import RefreshRejected, SignedOut, refresh_reply, signed_out_error
from .tokens import default_device_fingerprint, tokens_from_reply

__all__ = ["REFRESH_PATH", "Clock", "RefreshCallback", "SessionAuth"]

REFRESH_PATH = "/v2/my/refresh"

_log = get_logger()


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
        self._access = secret(access_token, "access token")
        self._refresh: SecretStr | None = (
            None if refresh_token is None else secret(refresh_token, "refresh token")
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
        await self._refresh_from(requester_of(requester), self._header_value())

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
                pair = tokens_from_reply(
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
            # Persisting is the app's concern: its failure is logged and the call goes on.
            await notify(self._on_refresh, self.tokens, failure_event="auth.on_refresh_failed")
            return True


def _aware(value: datetime | None) -> datetime | None:
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()
