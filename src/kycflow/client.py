"""``kycflow.Client``: the public entry point over the transport, auth and endpoint resources."""

from __future__ import annotations

import contextlib
import random
import ssl as ssl_module
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Self, TypedDict, Unpack

import aiohttp
from pydantic import SecretStr

from ._constants import (
    ALLOWED_CONTENT_TYPES,
    DEFAULT_CONNECTION_LIMIT,
    DEFAULT_CONNECTION_LIMIT_PER_HOST,
    DEFAULT_DEADLINE,
    DEFAULT_MAX_RETRIES,
    DEFAULT_TOTAL_TIMEOUT,
    DEFAULT_UPLOAD_TOTAL_TIMEOUT,
    INITIAL_BACKOFF,
    MAX_BACKOFF,
    MAX_RESPONSE_BYTES,
    MAX_RETRY_AFTER,
    MAX_UPLOAD_BYTES,
    TOKEN_REFRESH_MARGIN,
    UPLOAD_CHUNK_BYTES,
    UPLOAD_FIELD,
    UPLOAD_PATH,
)
from ._http.coordination import RequestCoordinator
from ._http.flow_control import RetryBudget
from ._http.retry import RetryPolicy
from ._http.transport import BodyFactory, CallOptions, Response, Transport, make_timeout
from ._http.wire import decode_json, upload_path_from_payload
from .auth import (
    Auth,
    FactorChoiceCallback,
    RefreshCallback,
    Requester,
    SecondFactorCallback,
    SessionAuth,
    sign_in,
)
from .errors import ConfigurationError
from .resources.documents import Documents
from .resources.files import Files
from .resources.verifications import Verifications
from .resources.wizard import Wizard

__all__ = ["Client", "RequestOptions", "UploadConfig"]

TimeoutArg = float | aiohttp.ClientTimeout | None


class RequestOptions(TypedDict, total=False):
    """Per-call overrides every endpoint method accepts as keyword arguments."""

    timeout: TimeoutArg
    """Seconds for the whole attempt (or a ``ClientTimeout``)."""
    max_retries: int
    """Retries after the first attempt."""
    deadline: float | None
    """Seconds for the whole call, retries and waits included (None: no deadline)."""
    extra_headers: Mapping[str, str]
    """Headers added to this call."""


_OPTION_KEYS = frozenset(RequestOptions.__annotations__)


@dataclass(frozen=True, slots=True)
class UploadConfig:
    """How ``files.upload`` talks to the server (NOTES.md's contract by default).

    ``extract(payload)`` returns the stored path from the decoded reply (None if absent).
    ``timeout`` is the default for uploads: None means no total cap (large files take long)
    while connecting and each socket read stay bounded.
    """

    path: str = UPLOAD_PATH
    field: str = UPLOAD_FIELD
    extract: Callable[[Any], str | None] = upload_path_from_payload
    chunk_size: int = UPLOAD_CHUNK_BYTES
    timeout: TimeoutArg = DEFAULT_UPLOAD_TOTAL_TIMEOUT
    allowed_types: Collection[str] = ALLOWED_CONTENT_TYPES


@dataclass(frozen=True, slots=True)
class _Settings:
    timeout: aiohttp.ClientTimeout
    max_retries: int
    deadline: float | None

    options: CallOptions = field(init=False, compare=False)
    """These settings as the options of a call without overrides (shared by every view)."""

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "options", CallOptions(self.timeout, self.max_retries, self.deadline)
        )


class Client:
    """An asyncio client of the verification API.

    Use it as an async context manager (or ``await client.aclose()``). It owns one aiohttp
    session, created on the first request, unless ``session`` is given (then it never closes
    it). ``with_auth`` and ``with_options`` return cheap views sharing the same connection pool.
    The endpoints are grouped under ``verifications``, ``wizard``, ``files`` and ``documents``.

    Flow control is client-wide (shared by every view): ``retry_budget`` (a ``RetryBudget``,
    the AWS SDKs' standard retry quota by default; ``RetryBudget(capacity=None)`` disables it)
    bounds retries during an outage, and ``coordinator`` (a ``LocalCoordinator`` by default)
    pauses every call to the server after a ``Retry-After`` and can cap the request rate; a
    fleet shares one through Redis (``kycflow.integrations.redis_coordination``).
    """

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
        if auth is not None and not isinstance(auth, Auth):
            raise ConfigurationError("auth must implement kycflow.Auth (e.g. BearerToken)")
        transport = Transport(
            base_url,
            session=session,
            connector=connector,
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
        self._init(
            transport,
            auth,
            _Settings(
                make_timeout(timeout), _check_retries(max_retries), _check_deadline(deadline)
            ),
            upload or UploadConfig(),
            max_upload_bytes,
            root=True,
        )

    def _init(
        self,
        transport: Transport,
        auth: Auth | None,
        settings: _Settings,
        upload: UploadConfig,
        max_upload_bytes: int,
        *,
        root: bool,
    ) -> None:
        self._transport = transport
        self._auth = auth
        self._settings = settings
        self._upload = upload
        self._max_upload_bytes = max_upload_bytes
        self._root = root
        # Resolved once per view: most calls pass no override and reuse these as they are.
        self._defaults = settings.options
        self._upload_defaults: CallOptions | None = None  # on first upload: it may raise
        self._requester: Requester | None = _AuthRequester(self) if auth is not None else None
        self._verifications = Verifications(self)
        self._wizard = Wizard(self)
        self._files = Files(self)
        self._documents = Documents(self)

    def _view(self, auth: Auth | None, settings: _Settings) -> Client:
        view = object.__new__(type(self))
        view._init(
            self._transport, auth, settings, self._upload, self._max_upload_bytes, root=False
        )
        if settings is self._settings:  # same defaults: share the resolved upload options
            if self._upload_defaults is None:
                with contextlib.suppress(ConfigurationError):  # raised again on upload
                    self._upload_defaults = self._resolve_upload_defaults()
            view._upload_defaults = self._upload_defaults
        return view

    def __repr__(self) -> str:
        kind = "Client" if self._root else "Client view"
        return f"<{kind} {self._transport.base_url} auth={type(self._auth).__name__}>"

    # The endpoint groups: one read-only property each, built once per client or view.
    @property
    def verifications(self) -> Verifications:
        """The verification history: ``list(...)``, ``iterate(...)``, ``get(id)``."""
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
        return self._documents

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
        """The shared transport (one connection pool for the client and all its views)."""
        return self._transport

    @property
    def upload_config(self) -> UploadConfig:
        """How uploads are sent."""
        return self._upload

    @property
    def max_upload_bytes(self) -> int:
        """The largest document ``files.upload`` accepts."""
        return self._max_upload_bytes

    def with_auth(self, auth: Auth | None) -> Client:
        """A view that sends ``auth``, sharing this client's pool (opens nothing)."""
        if auth is not None:
            _check_auth(auth)
        return self._view(auth, self._settings)

    def with_options(self, **options: Unpack[RequestOptions]) -> Client:
        """A view with other defaults (``timeout``, ``max_retries``, ``deadline``)."""
        _check_option_keys(options)
        if "extra_headers" in options:
            raise ConfigurationError("extra_headers is a per-call option only")
        settings = self._settings
        return self._view(
            self._auth,
            _Settings(
                make_timeout(options["timeout"]) if "timeout" in options else settings.timeout,
                _check_retries(options.get("max_retries", settings.max_retries)),
                _check_deadline(options["deadline"])
                if "deadline" in options
                else settings.deadline,
            ),
        )

    async def aclose(self) -> None:
        """Close the pool if this is the root client and it owns the session (views: no-op)."""
        if self._root:
            await self._transport.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def call_options(self, overrides: RequestOptions, *, upload: bool = False) -> CallOptions:
        """Resolve per-call overrides against this client's defaults (``upload``: the upload
        config's timeout is the default)."""
        if not overrides:
            if not upload:
                return self._defaults
            if self._upload_defaults is None:
                self._upload_defaults = self._resolve_upload_defaults()
            return self._upload_defaults
        _check_option_keys(overrides)
        settings = self._settings
        if "timeout" in overrides:
            timeout = make_timeout(overrides["timeout"])
        elif upload:
            timeout = make_timeout(self._upload.timeout)
        else:
            timeout = settings.timeout
        return CallOptions(
            timeout=timeout,
            max_retries=_check_retries(overrides.get("max_retries", settings.max_retries)),
            deadline=_check_deadline(overrides["deadline"])
            if "deadline" in overrides
            else settings.deadline,
            extra_headers=overrides.get("extra_headers"),
        )

    def _resolve_upload_defaults(self) -> CallOptions:
        settings = self._settings
        return CallOptions(
            make_timeout(self._upload.timeout), settings.max_retries, settings.deadline
        )

    async def request(
        self,
        method: str,
        path: str,
        *,
        options: CallOptions,
        template: str | None = None,
        params: Sequence[tuple[str, str]] | None = None,
        json: Any = None,
        body: BodyFactory | None = None,
        policy: RetryPolicy = RetryPolicy.DEFAULT,
    ) -> tuple[Response, Any]:
        """One authenticated call: the 2xx reply and its decoded JSON (None when empty)."""
        response = await self._transport.send(
            method,
            path,
            options=options,
            template=template,
            params=params,
            json=json,
            body=body,
            auth=self._auth,
            requester=self._requester,
            policy=policy,
            decode=lambda body, status: decode_json(
                body, status=status, method=method, path=template or path
            ),
        )
        return response, response.data

    def auth_requester(self) -> Requester:
        """The unauthenticated JSON requester that auth (refresh, sign-in) uses."""
        return self._requester or _AuthRequester(self)

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


class _AuthRequester:
    """Auth's window onto the API: unauthenticated JSON calls over the client's pool."""

    __slots__ = ("_client",)

    def __init__(self, client: Client) -> None:
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
            # Token replies: a protocol error must not quote them.
            decode=lambda body, status: decode_json(
                body, status=status, method=method, path=path, sensitive=True
            ),
        )
        return response.data


# Classes already seen to implement ``Auth``: an isinstance check against a runtime protocol
# inspects every member, and ``with_auth`` runs once per user.
_AUTH_CLASSES: set[type] = set()


def _check_auth(auth: object) -> None:
    cls = type(auth)
    if cls in _AUTH_CLASSES:
        return
    if not isinstance(auth, Auth):
        raise ConfigurationError("auth must implement kycflow.Auth (e.g. BearerToken)")
    _AUTH_CLASSES.add(cls)


def _check_retries(value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigurationError("max_retries must be an int >= 0")
    return value


def _check_deadline(value: float | None) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ConfigurationError("deadline must be a positive number of seconds or None")
    return float(value)


def _check_option_keys(options: Mapping[str, Any]) -> None:
    unknown = set(options) - _OPTION_KEYS
    if unknown:
        raise ConfigurationError(f"unknown request option(s): {', '.join(sorted(unknown))}")
