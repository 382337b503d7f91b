"""One token refresh that survives a lost reply (used by ``SessionAuth``).

A refresh is a POST: when its reply is lost (a reset or timeout after sending, an unreadable
body) the server may already have rotated the tokens. The refresh is then tried again with the
same (old) refresh token, which a server with a rotation grace period still honours. If the
server refuses the token, the session cannot recover: ``signed_out_error`` says so and tells the
application to sign the user in again, and ``SessionAuth`` fails every later call with it at
once instead of sending requests with tokens the server has revoked.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from .._logging import get_logger
from ..errors import (
    APIConnectionError,
    APIStatusError,
    AuthenticationError,
    BadRequestError,
    OutcomeUnknownError,
    PermissionDeniedError,
)

__all__ = ["REFRESH_TRIES", "SignedOut", "refresh_reply", "signed_out_error"]

REFRESH_TRIES = 2
"""Tries of one refresh whose reply was lost: the first, and one more with the same token."""

_log = get_logger()
_REJECTED = (AuthenticationError, BadRequestError, PermissionDeniedError)

SignedOut = tuple[int, str | None, bool, str]
"""Why a session is over: the refusing status, its request id, whether a reply was lost, and
the server's (already scrubbed) message."""


class RefreshRejected(Exception):
    """Internal: the server refused the refresh token."""

    def __init__(self, why: SignedOut, cause: APIStatusError) -> None:
        super().__init__("refresh rejected")
        self.why = why
        self.cause = cause


async def refresh_reply(
    post: Callable[[Mapping[str, Any]], Awaitable[Any]], body: Mapping[str, Any]
) -> Any:
    """``post(body)``'s reply, retried once with the same token after a lost reply; raises
    ``RefreshRejected`` when the server refuses the token."""
    lost = False
    for attempt in range(1, REFRESH_TRIES + 1):
        try:
            return await post(body)
        except (OutcomeUnknownError, APIConnectionError) as exc:
            if attempt == REFRESH_TRIES:
                raise
            lost = lost or isinstance(exc, OutcomeUnknownError)
            _log.warning("auth.refresh_reply_lost", attempt=attempt, error=type(exc).__name__)
        except _REJECTED as exc:
            raise RefreshRejected((exc.status, exc.request_id, lost, exc.message), exc) from None
    raise AssertionError("unreachable")  # pragma: no cover


def signed_out_error(why: SignedOut, path: str) -> AuthenticationError:
    """The error of every call of a session whose refresh token the server refused."""
    status, request_id, lost, server_message = why
    reason = (
        "a refresh's reply was lost after the server renewed the tokens, and the old refresh "
        "token is no longer accepted"
        if lost
        else "the server refused the refresh token (expired or revoked)"
    )
    advice = f"the session is over: {reason}; sign the user in again"
    # The server's own words come first, as in every status error (issue 9: kept, scrubbed).
    return AuthenticationError(
        f"{server_message} ({advice})" if server_message else advice,
        status=status,
        request_id=request_id,
        method="POST",
        path=path,
    )
