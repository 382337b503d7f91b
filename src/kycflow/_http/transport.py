"""The HTTP layer: one aiohttp session (owned or borrowed), timeouts, redirects, retries, logs.

It knows no endpoint. ``Transport.send`` makes one logical call: attempts with tenacity (a fresh
``AsyncRetrying`` per call), a 401 replay through the caller's ``Auth``, redirects followed by
hand, a bounded read of the reply, and every failure mapped onto ``kycflow.errors``.
"""

from __future__ import annotations

import asyncio
import json as jsonlib
import logging
import random
import ssl as ssl_module
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, nullcontext
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_after_attempt,
    stop_before_delay,
)

from .. import _telemetry as telemetry
from .._constants import (
    DEFAULT_CONNECTION_LIMIT,
    DEFAULT_CONNECTION_LIMIT_PER_HOST,
    INITIAL_BACKOFF,
    MAX_BACKOFF,
    MAX_RESPONSE_BYTES,
    MAX_RETRY_AFTER,
    USER_AGENT,
)
from .._logging import get_logger, is_enabled
from ..auth import Auth, Requester
from ..errors import APIError, APITimeoutError, ConfigurationError, ProtocolError, RateLimitError
from .bodies import read_body
from .coordination import LocalCoordinator, RequestCoordinator
from .failures import RetrySignal, raise_for
from .failures import map_exception as _map_exception
from .flow_control import RetryBudget
from .redirects import MAX_REDIRECTS, REDIRECT_STATUSES, Hop, follow_redirects
from .retry import Decision, Failure, RetryPolicy, backoff, classify, parse_retry_after
from .secrets import (
    SecretBytes,
    SecretHeader,
    SecretValues,
    json_default,
    request_secrets,
    scrub_error,
    scrub_protocol_error,
    secrets_of,
    without_echoed_credentials,
)
from .timeouts import capped_timeout, make_timeout
from .wire import check_base_url, error_from_response, join_url, request_id_of

__all__ = [
    "MAX_REDIRECTS",
    "BodyFactory",
    "CallOptions",
    "Response",
    "Transport",
    "make_timeout",
]

# ``json.dumps`` with any non-default argument builds a new encoder on every call. A ``Secret``
# value (password, code, refresh token) is written raw only here.
_JSON_ENCODER = jsonlib.JSONEncoder(separators=(",", ":"), default=json_default)

BodyFactory = Callable[[], AbstractAsyncContextManager[Any]]
"""Opens a fresh request body (``data=`` of aiohttp) per send and closes it afterwards."""


@dataclass(frozen=True, slots=True)
class CallOptions:
    """Resolved settings of one call."""

    timeout: aiohttp.ClientTimeout
    max_retries: int
    deadline: float | None
    extra_headers: Mapping[str, str] | None = None


@dataclass(frozen=True, slots=True)
class Response:
    """A successful (2xx) reply, its body read in full (within ``max_response_bytes``)."""

    status: int
    headers: Mapping[str, str]
    body: bytes
    request_id: str | None
    url: str
    data: Any = None
    """The body as ``send``'s ``decode`` returned it (None without a ``decode``)."""


class Transport:
    """Owns (or borrows) the aiohttp session and makes calls with retries.

    The owned session and connector are created lazily on first use, so a Transport can be
    built outside a running event loop. A caller's ``session`` (or ``connector``) is never
    closed by ``aclose``.
    """

    def __init__(
        self,
        base_url: str,
        *,
        session: aiohttp.ClientSession | None = None,
        connector: aiohttp.BaseConnector | None = None,
        allow_insecure_http: bool = False,
        max_response_bytes: int = MAX_RESPONSE_BYTES,
        connection_limit: int = DEFAULT_CONNECTION_LIMIT,
        connection_limit_per_host: int = DEFAULT_CONNECTION_LIMIT_PER_HOST,
        ssl: ssl_module.SSLContext | bool = True,
        initial_backoff: float = INITIAL_BACKOFF,
        max_backoff: float = MAX_BACKOFF,
        max_retry_after: float = MAX_RETRY_AFTER,
        user_agent: str = USER_AGENT,
        rng: random.Random | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        retry_budget: RetryBudget | None = None,
        coordinator: RequestCoordinator | None = None,
    ) -> None:
        if session is not None and connector is not None:
            raise ConfigurationError("pass either session or connector, not both")
        if ssl is False and not allow_insecure_http:
            raise ConfigurationError(
                "ssl=False disables TLS verification: also pass allow_insecure_http=True"
            )
        self.base_url = check_base_url(base_url, allow_insecure_http=allow_insecure_http)
        self._allow_insecure_http = allow_insecure_http
        self._session = session
        self._owns_session = session is None
        self._connector = connector
        self._max_response_bytes = max_response_bytes
        self._limit = connection_limit
        self._limit_per_host = connection_limit_per_host
        self._ssl = ssl
        self._initial_backoff = initial_backoff
        self._max_backoff = max_backoff
        self._max_retry_after = max_retry_after
        self._user_agent = user_agent
        self._rng = rng or random.Random()
        self._sleep = sleep
        # Client-wide: every call's retries draw from one budget; a Retry-After pauses the host.
        self.retry_budget = retry_budget if retry_budget is not None else RetryBudget()
        self.coordinator = coordinator if coordinator is not None else LocalCoordinator()
        self._host = urlsplit(self.base_url).netloc
        self._closed = False
        self._log = get_logger()
        self._default_headers = {"User-Agent": user_agent, "Accept": "application/json"}
        # An owned session sends the defaults itself; a caller's session gets them per request.
        self._base_headers = {} if session is None else dict(self._default_headers)

    @property
    def session_opened(self) -> bool:
        """Whether a session exists (a caller's, or an owned one created by a first request)."""
        return self._session is not None

    @property
    def closed(self) -> bool:
        """Whether ``aclose`` was called."""
        return self._closed

    def session(self) -> aiohttp.ClientSession:
        """The session, created on first use when owned."""
        if self._closed:
            raise ConfigurationError("the client is closed")
        if self._session is None:
            connector = self._connector
            connector_owner = connector is None
            if connector is None:
                connector = aiohttp.TCPConnector(
                    limit=self._limit, limit_per_host=self._limit_per_host, ssl=self._ssl
                )
            self._session = aiohttp.ClientSession(
                connector=connector,
                connector_owner=connector_owner,
                headers=self._default_headers,
                # Users share the pool: a shared jar would leak one user's cookies to another.
                cookie_jar=aiohttp.DummyCookieJar(),
                timeout=make_timeout(None),
                trust_env=False,
            )
        return self._session

    async def aclose(self) -> None:
        """Close the owned session (and the connector it created); never a caller's."""
        if self._closed:
            return
        self._closed = True
        session, self._session = self._session, None
        if session is not None and self._owns_session:
            await session.close()

    async def send(
        self,
        method: str,
        path: str,
        *,
        options: CallOptions,
        template: str | None = None,
        params: Sequence[tuple[str, str]] | None = None,
        json: Any = None,
        body: BodyFactory | None = None,
        auth: Auth | None = None,
        requester: Requester | None = None,
        policy: RetryPolicy = RetryPolicy.DEFAULT,
        decode: Callable[[bytes, int], Any] | None = None,
    ) -> Response:
        """Make one call (with retries) and return its 2xx reply, or raise a kycflow error.

        ``decode(body, status)`` parses a 2xx body into ``Response.data``. When it raises
        ``ProtocolError`` (a reply cut short, say) the attempt counts as a connection broken
        after sending: a GET is retried, a POST's outcome is unknown.
        """
        method = method.upper()
        template = template or path
        session = self.session()
        url = join_url(self.base_url, path)
        headers = self._base_headers.copy()
        if options.extra_headers:
            headers.update(options.extra_headers)
        json_body: bytes | None = None
        secrets: SecretValues | None = None
        if json is not None:
            try:
                # A redacted repr: a traceback rendering locals must not print a password.
                json_body = SecretBytes(_JSON_ENCODER.encode(json).encode())
            except (TypeError, ValueError) as exc:
                raise ConfigurationError(
                    f"request body is not JSON-serialisable ({type(exc).__name__})"
                ) from None
            headers["Content-Type"] = "application/json"
            secrets = secrets_of(json)
        deadline_at = None if options.deadline is None else time.monotonic() + options.deadline

        async def attempt(number: int) -> Response:
            return await self._attempt(
                session,
                method,
                url,
                template,
                params,
                headers,
                json_body,
                body,
                options.timeout,
                deadline_at,
                auth,
                requester,
                policy,
                number,
                decode=decode,
                secrets=secrets,
            )

        # Most calls succeed at once: the first attempt runs outside tenacity, whose machinery
        # costs more CPU per call than the request itself on a fast network.
        budget = self.retry_budget
        budget.started()
        try:
            response = await attempt(1)
            budget.succeeded()
            return response
        except RetrySignal as exc:
            first = exc
        drawn: list[int | None] = [None]
        stop: Any = stop_after_attempt(max(options.max_retries, 0) + 1)
        if deadline_at is not None:
            stop = stop | stop_before_delay(max(deadline_at - time.monotonic(), 0.0))
        stop = stop | (lambda state: self._out_of_budget(state, drawn, method, template))
        retrying = AsyncRetrying(
            stop=stop,
            wait=self._wait,
            retry=retry_if_exception_type(RetrySignal),
            before_sleep=lambda state: self._log_retry(state, method, template),
            reraise=True,
            sleep=self._sleep,
        )
        try:
            async for state in retrying:
                with state:
                    number = state.retry_state.attempt_number
                    if number == 1:
                        raise first  # replayed, so tenacity's stop, wait and logging see it
                    response = await attempt(number)
                    budget.succeeded(drawn[0])
                    return response
        except RetrySignal as exc:
            raise exc.error from exc.error.__cause__
        raise AssertionError("unreachable: tenacity ended without a result")  # pragma: no cover

    def _out_of_budget(
        self, state: RetryCallState, drawn: list[int | None], method: str, template: str
    ) -> bool:
        """Tenacity stop: draw the next retry's cost from the client-wide budget."""
        exc = state.outcome.exception() if state.outcome is not None else None
        timeout = isinstance(exc, RetrySignal) and exc.reason == Failure.TIMEOUT.value
        drawn[0] = self.retry_budget.draw(timeout=timeout)
        if drawn[0] is None:
            self._log.warning("http.retry_budget_exhausted", method=method, path=template)
            return True
        return False

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome is not None else None
        if isinstance(exc, RetrySignal) and exc.retry_after is not None:
            return min(exc.retry_after, self._max_retry_after)
        return backoff(
            state.attempt_number,
            self._rng,
            initial=self._initial_backoff,
            maximum=self._max_backoff,
        )

    def _log_retry(self, state: RetryCallState, method: str, template: str) -> None:
        exc = state.outcome.exception() if state.outcome is not None else None
        delay = state.next_action.sleep if state.next_action is not None else state.upcoming_sleep
        telemetry.record_retry("http", exc.reason if isinstance(exc, RetrySignal) else "error")
        self._log.info(
            "http.retry",
            method=method,
            path=template,
            attempt=state.attempt_number,
            delay=round(delay, 3),
            reason=exc.reason if isinstance(exc, RetrySignal) else type(exc).__name__,
        )

    async def _attempt(
        self,
        session: aiohttp.ClientSession,
        method: str,
        url: str,
        template: str,
        params: Sequence[tuple[str, str]] | None,
        headers: Mapping[str, str],
        json_body: bytes | None,
        body: BodyFactory | None,
        client_timeout: aiohttp.ClientTimeout,
        deadline_at: float | None,
        auth: Auth | None,
        requester: Requester | None,
        policy: RetryPolicy,
        number: int,
        *,
        decode: Callable[[bytes, int], Any] | None = None,
        secrets: SecretValues | None = None,
    ) -> Response:
        await self._acquire(deadline_at, method, template)
        if deadline_at is not None:
            remaining = deadline_at - time.monotonic()
            if remaining <= 0:
                raise APITimeoutError("the call's deadline passed", method=method, path=template)
            client_timeout = capped_timeout(client_timeout, remaining)
        replayed = False
        while True:
            send_headers = dict(headers)
            sent_auth: Mapping[str, str] = {}
            if auth is not None:
                if requester is None:
                    raise ConfigurationError("an Auth needs a requester")
                # Redacted reprs, down to aiohttp: no rendered frame shows the token.
                sent_auth = {
                    name: value if type(value) is SecretHeader else SecretHeader(value)
                    for name, value in (await auth.headers(requester)).items()
                }
                send_headers.update(sent_auth)
            try:
                # The first request is made here rather than in a redirect loop: one coroutine
                # layer fewer on every call, and most calls are not redirected.
                # A multipart body is opened (and closed) around its request; JSON is bytes.
                source = nullcontext(json_body) if body is None else body()
                async with source as data:
                    status, resp_headers, payload, final_url, location = await self._hop(
                        session,
                        method,
                        url,
                        template,
                        params,
                        send_headers,
                        data,
                        client_timeout,
                        number,
                    )
                if location is not None:
                    status, resp_headers, payload, final_url = await follow_redirects(
                        # No query: the Location carries its own.
                        lambda m, u, h, d: self._hop(
                            session, m, u, template, None, h, d, client_timeout, number
                        ),
                        method,
                        url,
                        template,
                        send_headers,
                        json_body,
                        body,
                        status,
                        location,
                        allow_insecure_http=self._allow_insecure_http,
                    )
            except (APIError, ConfigurationError):
                raise
            except Exception as exc:
                mapped = _map_exception(exc)
                if mapped is None:
                    raise
                failure, error = mapped
                error.method, error.path = method, template
                self._log_attempt(method, template, None, number, None, None, failure.value)
                raise_for(classify(method, failure, policy), error, exc, None)
            if 200 <= status < 300:
                if sent_auth:
                    payload = without_echoed_credentials(payload, sent_auth)
                data = None
                if decode is not None:
                    try:
                        data = decode(payload, status)
                    except ProtocolError as exc:
                        # The server answered 2xx (a POST was applied) but the body is unreadable.
                        if secrets or sent_auth:
                            # Nor the decoder's frames (their locals hold the body) nor its
                            # JSONDecodeError (its ``doc`` is the body) may keep an echo.
                            scrub_protocol_error(exc, request_secrets(secrets or (), sent_auth))
                            exc.__cause__ = exc.__context__ = None
                            exc = exc.with_traceback(None)
                            payload = SecretBytes(payload)
                        decision = classify(method, Failure.DISCONNECT, policy)
                        raise_for(Decision(decision.action, "unreadable reply"), exc, None, None)
                return Response(
                    status, resp_headers, payload, request_id_of(resp_headers), final_url, data
                )
            error = error_from_response(status, resp_headers, payload, method=method, path=template)
            if secrets or sent_auth:
                # A server may echo the request (a 422 quoting its input): not into our errors.
                scrub_error(error, request_secrets(secrets or (), sent_auth), payload)
                payload = SecretBytes(payload)
            if (
                status == 401
                and auth is not None
                and requester is not None
                and not replayed
                and await auth.on_unauthorized(requester, sent_auth)
            ):
                replayed = True
                continue
            if 300 <= status < 400 or status < 200:
                raise ProtocolError(
                    f"unexpected status {status}",
                    status=status,
                    method=method,
                    path=template,
                )
            retry_after = error.retry_after if isinstance(error, RateLimitError) else None
            if retry_after is None and status == 503:
                retry_after = parse_retry_after(resp_headers.get("Retry-After"))
            if retry_after is not None and policy is not RetryPolicy.CONNECT_ONLY:
                # Every call to the host waits it out once, rather than each learning it. (Not
                # a sign-in's: the vendor throttles sign-in per account, not the whole client.)
                await self.coordinator.pause(self._host, min(retry_after, self._max_retry_after))
            raise_for(classify(method, status, policy), error, None, retry_after)

    async def _acquire(self, deadline_at: float | None, method: str, template: str) -> None:
        """Wait for the coordinator's go (pause, rate), within the call's deadline."""
        wait = None if deadline_at is None else max(deadline_at - time.monotonic(), 0.0)
        try:
            await self.coordinator.acquire(self._host, wait)
        except TimeoutError:
            raise APITimeoutError(
                "the call's deadline passed while requests to the server were paused",
                method=method,
                path=template,
            ) from None

    async def _hop(
        self,
        session: aiohttp.ClientSession,
        method: str,
        url: str,
        template: str,
        query: Sequence[tuple[str, str]] | None,
        headers: dict[str, str],
        data: Any,
        client_timeout: aiohttp.ClientTimeout,
        number: int,
    ) -> Hop:
        """One request: (status, headers, body, final url, redirect location or None)."""
        debug = is_enabled(self._log, logging.DEBUG)
        started = time.monotonic() if debug else None
        try:
            request = session.request(
                method,
                url,
                params=query,
                headers=headers,
                data=data,
                allow_redirects=False,
                timeout=client_timeout,
            )
        except (ValueError, TypeError) as exc:
            raise ConfigurationError(f"invalid request ({type(exc).__name__})") from None
        with telemetry.http_span(method, url, template, number) as span:
            async with request as resp:
                status = resp.status
                span.status(status)
                resp_headers: Mapping[str, str] = resp.headers
                location = resp_headers.get("Location") if status in REDIRECT_STATUSES else None
                payload = (
                    b""
                    if location is not None
                    else await read_body(resp, self._max_response_bytes, method, template)
                )
                if debug:
                    self._log_attempt(
                        method,
                        template,
                        status,
                        number,
                        started,
                        request_id_of(resp_headers),
                        None if location is None else "redirect",
                    )
                return status, resp_headers, payload, str(resp.url), location

    def _log_attempt(
        self,
        method: str,
        template: str,
        status: int | None,
        attempt: int,
        started: float | None,
        request_id: str | None,
        error: str | None,
    ) -> None:
        log = self._log
        if not is_enabled(log, logging.DEBUG):
            return
        elapsed = None if started is None else round((time.monotonic() - started) * 1000, 1)
        log.debug(
            "http.request",
            method=method,
            path=template,
            status=status,
            attempt=attempt,
            elapsed_ms=elapsed,
            request_id=request_id,
            error=error,
        )
