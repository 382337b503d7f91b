"""Authentication: a static bearer token, a refreshing session, and sign-in.

Auth talks to the API only through a ``Requester`` (given by the client); it never imports the
transport. Token values are kept as ``SecretStr`` and never appear in a repr, log or error.

- ``base``: the ``Auth`` and ``Requester`` protocols, secret checks.
- ``tokens``: ``BearerToken``, the device fingerprint, token replies.
- ``session``: ``SessionAuth`` (refresh under a lock); ``refresh``: one refresh surviving a
  lost reply, and the signed-out error.
- ``signin``: ``sign_in`` (the sign-in wizard, second factors).
"""

from __future__ import annotations

from .base import Auth, Requester, SupportsRequester
from .session import REFRESH_PATH, Clock, RefreshCallback, SessionAuth
from .signin import (
    FACTOR_CHOICE_PATH,
    SECOND_FACTOR_PATH,
    SIGNIN_PATH,
    SIGNIN_WIZARD_PATH,
    FactorChoiceCallback,
    SecondFactorCallback,
    sign_in,
)
from .tokens import BearerToken, default_device_fingerprint

__all__ = [
    "FACTOR_CHOICE_PATH",
    "REFRESH_PATH",
    "SECOND_FACTOR_PATH",
    "SIGNIN_PATH",
    "SIGNIN_WIZARD_PATH",
    "Auth",
    "BearerToken",
    "Clock",
    "FactorChoiceCallback",
    "RefreshCallback",
    "Requester",
    "SecondFactorCallback",
    "SessionAuth",
    "SupportsRequester",
    "default_device_fingerprint",
    "sign_in",
]
