"""``kycflow.Client``: the public entry point over the transport, auth and endpoint resources."""

from __future__ import annotations

import random
import ssl as ssl_module
from collections.abc import Awaitable, Sequence
from typing import Any, Self, Unpack

import aiohttp
from pydantic import SecretStr

from .._constants import (
    DEFAULT_CONNECTION_LIMIT,
    DEFAULT_CONNECTION_LIMIT_PER_HOST,
    DEFAULT_DEADLINE,
    DEFAULT_MAX_RETRIES,
    DEFAULT_TOTAL_TIMEOUT,
    INITIAL_BACKOFF,
    MAX_BACKOFF,
    MAX_RESPONSE_BYTES,
    MAX_RETRY_AFTER,
    MAX_UPLOAD_BYTES,
    TOKEN_REFRESH_MARGIN,
)
from .._http.context import Response
from .._http.coordination import RequestCoordinator
from .._http.flow_control import RetryBudget
from .._http.options import (
    CallOptions,
    RequestOptions,
    TimeoutArg,
    TransportOptions,
    check_deadline,
    check_option_keys,
    check_retries,
    resolve_call_options,
)
from .._http.retry import RetryPolicy
from .._http.seam import AsyncTransport, StreamBody
from .._http.timeouts import make_timeout
from .._http.transport import Transport
from ..auth import (
    Auth,
    FactorChoiceCallback,
    RefreshCallback,
    Requester,
    SecondFactorCallback,
    SessionAuth,
    sign_in,
)
from ..errors import ConfigurationError
from ..resources._client import UploadConfig
from ..resources._raw import RAW_REPLIES, RawResponses, recorded
from ..resources.documents import Documents
from ..resources.files import Files
from ..resources.verifications import Verifications
from ..resources.wizard import Wizard
from ._base import AuthRequester, ClientState, check_auth, decode_reply

__all__ = ["Client", "RequestOptions", "UploadConfig"]


class Client:
    """An asyncio client of the verification API.

    Use it as an async context manager (or ``await client.aclose()``). It owns one aiohttp
    session, created on the first request, unless ``session`` is given (then it never closes
    it); ``transport`` (an ``kycflow.transport.AsyncTransport``) replaces aiohttp altogether.
    ``with_auth`` and ``with_options`` return cheap views sharing the same connection pool.
    The endpoints are grouped under ``verifications``, ``wizard``, ``files`` and ``documents``;
    ``with_raw_response`` gives their replies' request ids, statuses and headers.

    Flow control is client-wide (shared by every view): ``retry_budget`` (the AWS SDKs' retry
    quota by default; ``RetryBudget(capacity=None)`` disables it) bounds retries during an
    outage; ``coordinator`` (a ``LocalCoordinator``, or one shared through Redis) pauses every
    call to the server after a ``Retry-After`` and can cap the request rate.
    """

    # Slotted: a view is made per user, and thousands may be in use at once.
    __slots__ = (
        "__weakref__",
        "_auth",
        "_documents",
        "_files",
        "_requester",
        "_state",
        "_transport",
        "_verifications",
        "_wizard",
    )

    def __init__(
        self,
        base_url: str,
        *,
        auth: Auth | None = None,
        timeout: TimeoutArg = DEFAULT_TOTAL_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        deadline: float | None = DEFAULT_DEADLINE,
        session: aiohttp.ClientSession | None = None,
        connector: aiohttp.BaseConnector | None = None,
        transport: AsyncTransport | None = None,
        upload: UploadConfig | None = None,
        max_response_bytes: int = MAX_RESPONSE_BYTES,
        max_upload_bytes: int = MAX_UPLOAD_BYTES,
        allow_insecure_http: bool = False,
        ssl: ssl_module.SSLContext | bool = True,
        connection_limit: int = DEFAULT_CONNECTION_LIMIT,
        connection_limit_per_host: int = DEFAULT_CONNECTION_LIMIT_PER_HOST,
        initial_backoff: float = INITIAL_BACKOFF,
        max_backoff: float = MAX_BACKOFF,
        max_retry_after: float = MAX_RETRY_AFTER,
        rng: random.Random | None = None,
        retry_budget: RetryBudget | None = None,
        coordinator: RequestCoordinator | None = None,
    ) -> None:
        if auth is not None:
            check_auth(auth)
        options = TransportOptions.of(
            allow_insecure_http=allow_insecure_http,
            max_response_bytes=max_response_bytes,
            connection_limit=connection_limit,
            connection_limit_per_host=connection_limit_per_host,
            ssl=ssl,
            initial_backoff=initial_backoff,
            max_backoff=max_backoff,
            max_retry_after=max_retry_after,
            rng=rng,
            retry_budget=retry_budget,
            coordinator=coordinator,
        )
        sender = Transport(
            base_url, options, transport=transport, session=session, connector=connector
        )
        defaults = CallOptions(
            make_timeout(timeout), check_retries(max_retries), check_deadline(deadline)
        )
        self._bind(ClientState(sender, auth, defaults, upload or UploadConfig(), max_upload_bytes))

    def _bind(self, state: ClientState) -> None:
        """The one construction path (of the client, and of each view, a copy of it)."""
        self._state = state
        self._transport = state.transport
        self._auth = state.auth
        self._requester: Requester | None = AuthRequester(self) if state.auth is not None else None
        self._wizard = Wizard(self)
        self._files = Files(self)
        # Made when first used: a view per user that only runs the wizard never needs them.
        self._verifications: Verifications | None = None
        self._documents: Documents | None = None

    def _view(self, auth: Auth | None, defaults: CallOptions | None = None) -> Client:
        # ``copy.copy``'s result, without its generic machinery (a view is made per user).
        view = object.__new__(type(self))
        own = getattr(self, "__dict__", None)  # a subclass's own attributes
        if own:
            view.__dict__.update(own)
        view._bind(self._state.view(auth, defaults))
        return view

    def __repr__(self) -> str:
        kind = "Client" if self._state.root else "Client view"
        return f"<{kind} {self._transport.base_url} auth={type(self._auth).__name__}>"

    # The endpoint groups: one read-only property each, built at most once per client or view.
    @property
    def verifications(self) -> Verifications:
        """The verification history: ``list(...)``, ``iterate(...)``, ``get(id)``."""
        if self._verifications is None:
            self._verifications = Verifications(self)
        return self._verifications

    @property
    def wizard(self) -> Wizard:
        """The verification wizard: ``start()``, ``submit(uuid, type_id, files)``."""
        return self._wizard

    @property
    def files(self) -> Files:
        """Document uploads: ``upload(path | Document)`` returns the stored path."""
        return self._files

    @property
    def documents(self) -> Documents:
        """The client's documents: ``list``, ``iterate``, ``get``, ``create``, ``delete``."""
        if self._documents is None:
            self._documents = Documents(self)
        return self._documents

    @property
    def with_raw_response(self) -> RawResponses:
        """The endpoint groups, returning ``RawResponse`` (``.request_id``, ``.parse()``...)."""
        return RawResponses(self.verifications, self._wizard, self._files, self.documents)

    @property
    def base_url(self) -> str:
        """The API base URL (like ``https://host.name/api``)."""
        return self._transport.base_url

    @property
    def auth(self) -> Auth | None:
        """The auth this client (or view) sends."""
        return self._auth

    @property
    def transport(self) -> Transport:
        """The shared call path (one connection pool for the client and all its views)."""
        return self._transport

    @property
    def upload_config(self) -> UploadConfig:
        """How uploads are sent."""
        return self._state.upload

    @property
    def max_upload_bytes(self) -> int:
        """The largest document ``files.upload`` accepts."""
        return self._state.max_upload_bytes

    def with_auth(self, auth: Auth | None) -> Client:
        """A view that sends ``auth``, sharing this client's pool (opens nothing)."""
        if auth is not None:
            check_auth(auth)
        return self._view(auth)

    def with_options(self, **options: Unpack[RequestOptions]) -> Client:
        """A view with other defaults (``timeout``, ``max_retries``, ``deadline``)."""
        check_option_keys(options)
        if "extra_headers" in options:
            raise ConfigurationError("extra_headers is a per-call option only")
        defaults = self._state.defaults
        return self._view(self._auth, resolve_call_options(defaults, options, defaults.timeout))

    async def aclose(self) -> None:
        """Close the pool if this is the root client and it owns the session (views: no-op)."""
        if self._state.root:
            await self._transport.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def call_options(self, overrides: RequestOptions, *, upload: bool = False) -> CallOptions:
        """Resolve per-call overrides against this client's defaults (``upload``: the upload
        config's timeout is the default)."""
        if not overrides and not upload:  # most calls: no second frame
            return self._state.defaults
        return self._state.call_options(overrides, upload)

    def request(
        self,
        method: str,
        path: str,
        *,
        options: CallOptions,
        template: str | None = None,
        params: Sequence[tuple[str, str]] | None = None,
        json: Any = None,
        body: StreamBody | None = None,
        policy: RetryPolicy = RetryPolicy.DEFAULT,
    ) -> Awaitable[Response]:
        """One authenticated call: its 2xx ``Response`` (``data``: the decoded JSON, None when
        empty). The transport's call itself, to be awaited: no frame of this method is held by
        each of thousands of waiting runs (one only under ``with_raw_response``)."""
        sending = self._transport.send(
            method, path, options=options, template=template, params=params, json=json,
            body=body, auth=self._auth, requester=self._requester, policy=policy,
            decode=decode_reply,
        )  # fmt: skip
        return sending if RAW_REPLIES.get() is None else recorded(sending)

    def auth_requester(self) -> Requester:
        """The unauthenticated JSON requester that auth (refresh, sign-in) uses."""
        return self._requester or AuthRequester(self)

    async def sign_in(
        self,
        email: str,
        password: str | SecretStr,
        *,
        second_factor: SecondFactorCallback | None = None,
        device_fingerprint: str | None = None,
        on_refresh: RefreshCallback | None = None,
        refresh_margin: float = TOKEN_REFRESH_MARGIN,
        choose_factor: FactorChoiceCallback | None = None,
    ) -> SessionAuth:
        """Sign in (see ``kycflow.sign_in``); use the result with ``with_auth``."""
        if isinstance(password, str):
            password = SecretStr(password)  # rebound: no frame keeps the raw value
        return await sign_in(
            self,
            email,
            password,
            second_factor=second_factor,
            device_fingerprint=device_fingerprint,
            on_refresh=on_refresh,
            refresh_margin=refresh_margin,
            choose_factor=choose_factor,
        )
