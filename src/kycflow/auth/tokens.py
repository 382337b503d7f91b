"""Tokens: a fixed ``BearerToken``, the device fingerprint, and the server's token replies read
into a ``TokenPair`` without a token value reaching an error or a traceback."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from pydantic import SecretStr, ValidationError

from .._constants import USER_AGENT
from .._http.secrets import SecretHeader
from ..errors import ProtocolError
from ..models import TokenPair
from .base import Requester, secret

__all__ = ["BearerToken", "default_device_fingerprint", "tokens_from_reply"]

_SCHEME = "Bearer "


class BearerToken:
    """A fixed access token sent as ``Authorization: Bearer <token>``; never refreshed."""

    # The header alone is kept (the token is its tail): one object per user, not two, as a
    # web app holds one per signed-in user.
    __slots__ = ("_header", "fixed_headers")

    def __init__(self, token: str | SecretStr) -> None:
        checked = secret(token, "token")
        self._header = SecretHeader(f"{_SCHEME}{checked.get_secret_value()}")
        fixed = MappingProxyType({"Authorization": self._header})
        # None for a subclass with its own ``headers``: the call path must ask that one.
        own = type(self).headers is BearerToken.headers
        self.fixed_headers: Mapping[str, str] | None = fixed if own else None
        """The Authorization header, sent as it is (the call path needs no ``headers`` call)."""

    @property
    def token(self) -> SecretStr:
        """The token (a ``SecretStr``: call ``get_secret_value()`` to read it)."""
        return SecretStr(self._header[len(_SCHEME) :])

    def __repr__(self) -> str:
        return "BearerToken(token=SecretStr('**********'))"

    def __reduce__(self) -> tuple[type[BearerToken], tuple[SecretStr]]:
        return type(self), (self.token,)

    async def headers(self, requester: Requester) -> Mapping[str, str]:
        """The Authorization header."""
        return {"Authorization": self._header}

    async def on_unauthorized(self, requester: Requester, sent: Mapping[str, str]) -> bool:
        """A fixed token cannot be renewed: never replay."""
        return False


def default_device_fingerprint(user_agent: str = USER_AGENT) -> str:
    """Base64 of ``{"user_agent": ...}``, the vendor's minimal device fingerprint."""
    raw = json.dumps({"user_agent": user_agent}, separators=(",", ":")).encode()
    return base64.b64encode(raw).decode("ascii")


def tokens_from_reply(reply: Any, path: str) -> TokenPair:
    """The tokens of a sign-in or refresh reply (``data.accessToken``...); ProtocolError,
    quoting no value, when they are missing or malformed."""
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
