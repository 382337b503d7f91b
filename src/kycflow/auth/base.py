"""What auth is built on: the ``Auth`` protocol the client asks of a scheme, the ``Requester``
through which auth reaches the API (given by the client: auth never imports the transport),
and the checks its secrets pass."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

from pydantic import SecretStr

from ..errors import ConfigurationError

__all__ = ["Auth", "Requester", "SupportsRequester", "requester_of", "secret"]


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


def secret(value: str | SecretStr, what: str) -> SecretStr:
    """``value`` as a ``SecretStr``; ConfigurationError unless a non-empty single line."""
    wrapped = value if isinstance(value, SecretStr) else SecretStr(value)
    raw = wrapped.get_secret_value()
    if not isinstance(raw, str) or not raw or any(c in raw for c in "\r\n"):
        raise ConfigurationError(f"{what} must be a non-empty single-line string")
    return wrapped


def requester_of(target: Requester | SupportsRequester) -> Requester:
    """The ``Requester`` of a client (its ``auth_requester()``), or ``target`` itself."""
    factory = getattr(target, "auth_requester", None)
    if callable(factory):
        requester: Requester = factory()
        return requester
    if callable(target):
        return target
    raise ConfigurationError("sign_in needs a kycflow.Client or a Requester")
