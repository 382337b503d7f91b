"""What ``kycflow.Client`` is built from: its state (one object per client or view), the
requester auth calls the API through, and the check of an Auth.

The auth side is here rather than in ``kycflow.auth`` (which knows no client or transport) or
``kycflow._http`` (which knows no auth).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from .._http.context import Decode
from .._http.decoding import decode_json
from .._http.options import CallOptions, RequestOptions, resolve_call_options
from .._http.retry import RetryPolicy
from .._http.timeouts import make_timeout
from .._http.transport import Transport
from ..auth import Auth
from ..errors import ConfigurationError
from ..resources._client import UploadConfig

__all__ = ["AuthRequester", "ClientState", "check_auth", "decode_reply"]


@dataclass(frozen=True, slots=True)
class ClientState:
    """A client's (or view's) settings: views replace ``auth`` or the call defaults."""

    transport: Transport
    auth: Auth | None
    defaults: CallOptions
    """The options of a call without overrides (shared by every call of the view)."""
    upload: UploadConfig
    max_upload_bytes: int
    root: bool = True
    upload_defaults: list[CallOptions] = field(default_factory=list, compare=False)
    """The upload defaults, resolved on the first upload (an invalid timeout raises there)."""

    def view(self, auth: Auth | None, defaults: CallOptions | None) -> ClientState:
        """A view's state: another auth, and the same defaults unless ``defaults`` is given."""
        # Built directly: ``dataclasses.replace`` inspects the fields every time (a view is made
        # per user). The same defaults share the resolved upload options.
        if defaults is None:
            defaults, upload_defaults = self.defaults, self.upload_defaults
        else:
            upload_defaults = []
        return ClientState(
            self.transport,
            auth,
            defaults,
            self.upload,
            self.max_upload_bytes,
            False,
            upload_defaults,
        )

    def call_options(self, overrides: RequestOptions, upload: bool) -> CallOptions:
        """``overrides`` resolved against the defaults (of uploads, when ``upload``)."""
        defaults = self.defaults
        if upload:
            if not self.upload_defaults:
                timeout = make_timeout(self.upload.timeout)
                self.upload_defaults.append(replace(defaults, timeout=timeout))
            defaults = self.upload_defaults[0]
        if not overrides:
            return defaults
        return resolve_call_options(self.defaults, overrides, defaults.timeout)


class _Caller(Protocol):
    @property
    def transport(self) -> Transport: ...

    def call_options(self, overrides: RequestOptions, *, upload: bool = False) -> CallOptions: ...


decode_reply: Decode = decode_json
"""A 2xx body's JSON (None when empty): ``decode_json`` itself, no call in between."""


def _decode_tokens(body: bytes, status: int, method: str, template: str) -> Any:
    # Token replies: a protocol error must not quote them.
    return decode_json(body, status=status, method=method, path=template, sensitive=True)


class AuthRequester:
    """Auth's window onto the API: unauthenticated JSON calls over the client's pool."""

    __slots__ = ("_client",)

    def __init__(self, client: _Caller) -> None:
        self._client = client

    async def __call__(
        self,
        method: str,
        path: str,
        *,
        json: Mapping[str, Any] | None = None,
        sign_in: bool = False,
    ) -> Any:
        client = self._client
        response = await client.transport.send(
            method,
            path,
            options=client.call_options({}),
            json=json,
            policy=RetryPolicy.CONNECT_ONLY if sign_in else RetryPolicy.DEFAULT,
            decode=_decode_tokens,
        )
        return response.data


# Classes already seen to implement ``Auth``: an isinstance check against a runtime protocol
# inspects every member, and ``with_auth`` runs once per user.
_AUTH_CLASSES: set[type] = set()


def check_auth(auth: object) -> None:
    """Refuse what does not implement ``kycflow.Auth``."""
    cls = type(auth)
    if cls in _AUTH_CLASSES:
        return
    if not isinstance(auth, Auth):
        raise ConfigurationError("auth must implement kycflow.Auth (e.g. BearerToken)")
    _AUTH_CLASSES.add(cls)
