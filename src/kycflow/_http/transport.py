"""The call path: one logical call over an ``AsyncTransport``, every attempt and hop alike.

It knows no endpoint and no auth package: ``send`` builds a ``Call`` that every attempt and
redirect hop shares; a retryable first failure goes to ``Retrier`` (tenacity)."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from types import MappingProxyType
from typing import Any, NoReturn
from urllib.parse import urlsplit

import aiohttp

from .. import _telemetry as telemetry
from .._logging import get_logger, is_enabled
from ..errors import (
    APIConnectionError,
    APIError,
    APIStatusError,
    ConfigurationError,
    KycflowError,
)
from .aiohttp_transport import AiohttpTransport
from .context import Call, CallAuth, Decode, Response
from .coordination import LocalCoordinator
from .failures import RetrySignal, failure_of, raise_for
from .options import CallOptions, TransportOptions
from .outcomes import (
    checked_reply,
    deadline_passed,
    log_attempt,
    retry_after_of,
    status_error,
    success,
    time_left,
)
from .redirects import MAX_REDIRECTS, REDIRECT_STATUSES, Hop, next_hop, too_many_redirects
from .retry import Failure, RetryPolicy, classify
from .retrying import Retrier
from .seam import AsyncTransport, HTTPRequest, HTTPResponse, StreamBody, Timeouts
from .secrets import (
    SecretHeader,
    encode_json,
)
from .timeouts import make_timeout, seam_timeouts
from .wire import check_base_url, join_url, request_id_of, with_query

__all__ = ["MAX_REDIRECTS", "CallOptions", "Response", "Transport", "make_timeout"]

_NO_AUTH: Mapping[str, str] = {}
# Absolute URLs by path: thousands of calls waiting at once share one string per endpoint.
_URL_CACHE_LIMIT = 256


class Transport:
    """Makes calls with retries over an ``AsyncTransport`` (by default an aiohttp one that owns,
    or borrows, the session). ``options`` or its keyword ``settings``; ``aclose`` closes only
    what this created."""

    def __init__(
        self,
        base_url: str,
        options: TransportOptions | None = None,
        *,
        transport: AsyncTransport | None = None,
        session: aiohttp.ClientSession | None = None,
        connector: aiohttp.BaseConnector | None = None,
        **settings: Any,
    ) -> None:
        if options is None:
            options = TransportOptions.of(**settings)
        elif settings:
            raise ConfigurationError("pass options or keyword settings, not both")
        if transport is not None and (session is not None or connector is not None):
            raise ConfigurationError("pass either transport or session/connector")
        # Read-only (the property): the host, the URL cache and redirect checks come from it.
        self._base_url = check_base_url(base_url, allow_insecure_http=options.allow_insecure_http)
        self.options = options
        self._owns_sender = transport is None
        headers = {"User-Agent": options.user_agent, "Accept": "application/json"}
        self.sender: AsyncTransport = transport or AiohttpTransport(
            session=session,
            connector=connector,
            connection_limit=options.connection_limit,
            connection_limit_per_host=options.connection_limit_per_host,
            ssl=options.ssl,
            headers=headers,
        )
        added = self.sender.default_headers
        # Read-only: requests without headers of their own are handed this very mapping.
        self._headers: Mapping[str, str] = MappingProxyType(
            {k: v for k, v in headers.items() if added.get(k) != v}
        )
        self._urls: dict[str, str] = {}
        self.retry_budget = options.retry_budget
        self.coordinator = options.coordinator
        # A ``LocalCoordinator`` (with its own ``acquire``: a subclass may count or log there)
        # is asked no ``acquire`` while it has nothing to wait out or book.
        coordinator = self.coordinator
        self._idle_coordinator: LocalCoordinator | None = None
        own = type(coordinator).acquire is LocalCoordinator.acquire
        if isinstance(coordinator, LocalCoordinator) and own:
            self._idle_coordinator = coordinator
        self._retrier = Retrier(options)
        self._host = urlsplit(self._base_url).netloc
        self._max_body = options.max_response_bytes
        self._insecure = options.allow_insecure_http
        self._log = get_logger()
        self._closed = False

    @property
    def base_url(self) -> str:
        """The API's base URL, checked (read-only)."""
        return self._base_url

    @property
    def _sleep(self) -> Callable[[float], Awaitable[None]]:
        return self._retrier.sleep

    @_sleep.setter
    def _sleep(self, sleep: Callable[[float], Awaitable[None]]) -> None:
        self._retrier.sleep = sleep

    @property
    def session_opened(self) -> bool:
        """Whether an aiohttp session exists (a caller's, or one a first request created)."""
        sender = self.sender
        return isinstance(sender, AiohttpTransport) and sender.session_opened

    @property
    def closed(self) -> bool:
        """Whether ``aclose`` was called."""
        return self._closed

    def session(self) -> aiohttp.ClientSession:
        """The aiohttp session (created on first use when owned)."""
        if self._closed:
            raise ConfigurationError("the client is closed")
        if not isinstance(self.sender, AiohttpTransport):
            raise ConfigurationError("this client sends through a custom transport")
        return self.sender.session()

    async def aclose(self) -> None:
        """Close the transport this created (and its session); never a caller's."""
        if self._closed:
            return
        self._closed = True
        if self._owns_sender:
            await self.sender.aclose()

    def send(
        self,
        method: str,
        path: str,
        *,
        options: CallOptions,
        template: str | None = None,
        params: Sequence[tuple[str, str]] | None = None,
        json: Any = None,
        body: StreamBody | None = None,
        auth: CallAuth | None = None,
        requester: Any = None,
        policy: RetryPolicy = RetryPolicy.DEFAULT,
        decode: Decode | None = None,
    ) -> Awaitable[Response]:
        """Make one call (with retries), to be awaited: its 2xx reply, or a kycflow error.

        ``decode(body, status, method, template)`` parses a 2xx body into ``Response.data``.
        When it raises ``ProtocolError`` (a reply cut short, say) the attempt counts as a
        connection broken after sending: a GET is retried, a POST's outcome is unknown.
        """
        if self._closed:
            raise ConfigurationError("the client is closed")
        if auth is not None and requester is None:
            raise ConfigurationError("an Auth needs a requester")
        headers = self._headers
        payload: bytes | StreamBody | None = body
        content_type = None if body is None else body.content_type
        secrets = None
        if json is not None:
            (payload, secrets), content_type = encode_json(json), "application/json"
        fixed = None if auth is None else getattr(auth, "fixed_headers", None)
        if content_type or options.extra_headers or fixed:
            headers = {**headers, **(options.extra_headers or {})}
            if content_type:
                headers["Content-Type"] = content_type
            if fixed:  # never change (``CallAuth``): one dict for every attempt of the call
                headers.update(fixed)
        deadline = options.deadline
        url = self._urls.get(path)
        if url is None:
            if len(self._urls) >= _URL_CACHE_LIMIT:
                self._urls.clear()
            url = self._urls[path] = join_url(self._base_url, path)
        call = Call(
            method.upper(),
            with_query(url, params) if params else url,
            template or path,
            headers,
            payload,
            options.timeout,
            None if deadline is None else time.monotonic() + deadline,
            options.max_retries,
            policy,
            auth,
            requester,
            decode,
            secrets,
        )
        # What thousands of waiting calls each hold is ``_call``'s frame, not this one's.
        return self._call(call)

    async def _call(self, call: Call) -> Response:
        # The first attempt here, any retries on tenacity.
        budget = self.retry_budget
        budget.started()
        try:
            response = await self._attempt(call, 1)
        except RetrySignal as first:
            return await self._retrier.retry(call, first, self._attempt)
        budget.succeeded()
        return response

    async def _attempt(self, call: Call, number: int) -> Response:
        # The coordinator's go (pause, rate) within the deadline, then the time left.
        deadline_at = call.deadline_at
        idle = self._idle_coordinator
        if idle is None or not idle.idle:
            wait = None if deadline_at is None else max(deadline_at - time.monotonic(), 0.0)
            try:
                await self.coordinator.acquire(self._host, wait)
            except TimeoutError:
                raise deadline_passed(call, "while requests to the server were paused") from None
        limits = (
            seam_timeouts(call.timeout) if deadline_at is None else time_left(call, deadline_at)
        )
        replayed = False
        while True:
            # The attempt's headers, never edited (a redirect's are a new dict): the call's
            # (fixed auth headers included), or those with the auth's headers of the moment.
            headers = call.headers
            sent_auth: Mapping[str, str] = _NO_AUTH
            auth = call.auth
            if auth is not None:
                fixed = getattr(auth, "fixed_headers", None)
                if fixed:
                    sent_auth = fixed
                else:
                    sent_auth = await _auth_headers(auth, call.requester)
                    headers = {**headers, **sent_auth}
            try:
                reply = await self._exchange(call, headers, sent_auth, limits, number)
            except APIConnectionError as exc:
                self._no_reply(call, exc, number)
            except APIError as exc:  # an over-long reply, a refused redirect: as they are
                if exc.method is None:
                    exc.method, exc.path = call.method, call.template
                raise
            except KycflowError:  # a configuration error (say): as it is
                raise
            except Exception as exc:
                self._no_reply(call, exc, number)
            if 200 <= reply.status < 300:
                return success(call, reply, sent_auth)
            error = status_error(call, reply, sent_auth)
            if (
                reply.status == 401
                and call.auth is not None
                and not replayed
                and await call.auth.on_unauthorized(call.requester, sent_auth)
            ):
                replayed = True
                if deadline_at is not None:  # the replay gets what is left, no more
                    limits = time_left(call, deadline_at)
                continue
            await self._refuse(call, reply, error)

    async def _exchange(
        self,
        call: Call,
        headers: Mapping[str, str],
        sent_auth: Mapping[str, str],
        limits: Timeouts,
        number: int,
    ) -> HTTPResponse:
        """The attempt's requests: the call's own, then each redirect it is sent to."""
        method, url, body = call.method, call.url, call.body
        log = self._log
        for hops in range(MAX_REDIRECTS + 1):
            if hops and call.deadline_at is not None:  # each hop gets what is left, no more
                limits = time_left(call, call.deadline_at)
            started = time.monotonic() if is_enabled(log, logging.DEBUG) else None
            request = HTTPRequest(method, url, headers, body, limits, self._max_body)
            span = telemetry.http_span(method, url, call.template, number)
            if span is telemetry.NULL:  # nothing records it: no block to enter and leave
                reply = checked_reply(await self.sender.send(request), request)
            else:
                with span:  # an over-long reply is recorded as the span's error
                    reply = checked_reply(await self.sender.send(request), request)
                    span.status(reply.status)
            status = reply.status
            location = reply.headers.get("Location") if status in REDIRECT_STATUSES else None
            if started is not None:
                what = None if location is None else "redirect"
                rid = request_id_of(reply.headers)
                log_attempt(log, call, status, number, started, rid, what)
            if location is None:
                return reply
            hop = Hop(method, url, body, headers)  # only a redirected request builds one
            method, url, body, headers = next_hop(
                call, hop, status, location, sent_auth, insecure=self._insecure
            )
        raise too_many_redirects(call, method)

    def _no_reply(self, call: Call, exc: Exception, number: int) -> NoReturn:
        """Raise what a request that got no reply becomes (retry signal, error, unknown)."""
        # An exception no mapping knows (a custom transport's own): a connection broken after
        # sending, named by its type only (its message may quote the request).
        failure, error = failure_of(exc) or (
            Failure.DISCONNECT,
            APIConnectionError(f"the transport failed ({type(exc).__name__})"),
        )
        error.method, error.path = call.method, call.template
        log_attempt(self._log, call, None, number, None, None, failure.value)
        cause = error.__cause__ if error is exc else exc
        raise_for(classify(call.method, failure, call.policy), error, cause, None)

    async def _refuse(self, call: Call, reply: HTTPResponse, error: APIStatusError) -> NoReturn:
        """Raise what a non-2xx reply becomes, after pausing the host on a Retry-After."""
        retry_after = retry_after_of(reply, error)
        if retry_after is not None and call.policy is not RetryPolicy.CONNECT_ONLY:
            # Every call to the host waits it out once, rather than each learning it. (Not
            # a sign-in's: the vendor throttles sign-in per account, not the whole client.)
            max_wait = self.options.max_retry_after
            await self.coordinator.pause(self._host, min(retry_after, max_wait))
        raise_for(classify(call.method, reply.status, call.policy), error, None, retry_after)


async def _auth_headers(auth: CallAuth, requester: Any) -> Mapping[str, str]:
    """The auth's headers of the moment, as redacted values (no rendered frame shows them)."""
    return {
        name: value if type(value) is SecretHeader else SecretHeader(value)
        for name, value in (await auth.headers(requester)).items()
    }
