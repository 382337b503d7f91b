"""The default ``AsyncTransport``: one aiohttp session, owned (created lazily) or the caller's."""

from __future__ import annotations

import asyncio
import ssl as ssl_module
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import aiohttp
from aiohttp.abc import AbstractStreamWriter
from aiohttp.payload import Payload

from .._callbacks import timer_context
from .._constants import DEFAULT_CONNECTION_LIMIT, DEFAULT_CONNECTION_LIMIT_PER_HOST
from ..errors import APITimeoutError, ConfigurationError, KycflowError
from .bodies import read_body
from .failures import map_exception
from .redirects import REDIRECT_STATUSES
from .seam import AsyncTransport, HTTPRequest, HTTPResponse, StreamBody, Timeouts
from .timeouts import client_timeout, make_timeout

__all__ = ["AiohttpTransport"]


class _StreamPayload(Payload):
    """A ``StreamBody`` as aiohttp's request body: written from aiohttp's writer task."""

    _autoclose = True  # the iteration is closed by ``write`` itself

    def __init__(self, body: StreamBody) -> None:
        super().__init__(body)
        self._body = body
        self._task: asyncio.Task[Any] | None = None

    @property
    def size(self) -> int | None:
        return self._body.length

    def decode(self, encoding: str = "utf-8", errors: str = "strict") -> str:
        raise TypeError("a streamed body is binary")

    async def write_with_length(
        self, writer: AbstractStreamWriter, content_length: int | None
    ) -> None:
        await self.write(writer)

    async def write(self, writer: AbstractStreamWriter) -> None:
        whole = self._body.whole()
        if whole is not None:  # a small body in memory: one write, no iteration to close
            await writer.write(whole)
            return
        self._task = asyncio.current_task()
        chunks = self._body.chunks()
        try:
            async for chunk in chunks:
                await writer.write(chunk)
        finally:
            # Closed in the task that iterates it: a generator is never closed while it runs.
            aclose = getattr(chunks, "aclose", None)
            if aclose is not None:
                await aclose()

    async def finished(self) -> None:
        """Wait for the writer task, which still holds the body's iteration (aiohttp cancels
        it on an early reply or a failure; awaiting it lets its ``finally`` close the file)."""
        task = self._task
        if task is not None and not task.done() and task is not asyncio.current_task():
            task.cancel()
            await asyncio.wait((task,))


class AiohttpTransport(AsyncTransport):
    """Sends over an aiohttp session: a caller's ``session`` (or one over a caller's
    ``connector``) is never closed; an owned one is created on first use, so this can be built
    outside a running event loop."""

    def __init__(
        self,
        *,
        session: aiohttp.ClientSession | None = None,
        connector: aiohttp.BaseConnector | None = None,
        connection_limit: int = DEFAULT_CONNECTION_LIMIT,
        connection_limit_per_host: int = DEFAULT_CONNECTION_LIMIT_PER_HOST,
        ssl: ssl_module.SSLContext | bool = True,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """``headers``: sent with every request, as the owned session's defaults."""
        if session is not None and connector is not None:
            raise ConfigurationError("pass either session or connector, not both")
        self._session = session
        self._owns_session = session is None
        self._connector = connector
        self._limit = connection_limit
        self._limit_per_host = connection_limit_per_host
        self._ssl = ssl
        self._closed = False
        self._gate = None if session is None else _gate_for(session.connector)
        self._waiting = 0
        if session is None and headers:
            # The session adds them (in C): fewer headers to merge per request.
            self.default_headers = dict(headers)

    @property
    def session_opened(self) -> bool:
        """Whether a session exists (a caller's, or an owned one created by a first request)."""
        return self._session is not None

    @property
    def closed(self) -> bool:
        """Whether ``aclose`` was called."""
        return self._closed

    @property
    def waiting(self) -> int:
        """Requests waiting for a free place in the pool, in kycflow's queue."""
        return self._waiting

    def session(self) -> aiohttp.ClientSession:
        """The session, created on first use when owned."""
        if self._closed:
            raise ConfigurationError("the client is closed")
        if self._session is None:
            connector = self._connector
            if connector is None:
                connector = aiohttp.TCPConnector(
                    limit=self._limit, limit_per_host=self._limit_per_host, ssl=self._ssl
                )
            self._session = aiohttp.ClientSession(
                connector=connector,
                connector_owner=self._connector is None,
                # Users share the pool: a shared jar would leak one user's cookies to another.
                headers=dict(self.default_headers),
                cookie_jar=aiohttp.DummyCookieJar(),
                timeout=make_timeout(None),
                trust_env=False,
            )
            self._gate = _gate_for(self._session.connector)
        return self._session

    async def aclose(self) -> None:
        """Close the owned session (and the connector it created); never a caller's."""
        if self._closed:
            return
        self._closed = True
        session, self._session = self._session, None
        if session is not None and self._owns_session:
            await session.close()

    async def send(self, request: HTTPRequest) -> HTTPResponse:
        """One request, redirects not followed; failures mapped onto kycflow errors."""
        session = self._session or self.session()
        limits = request.timeout
        gate = self._gate
        if gate is not None and not gate.take():
            # The pool is full: wait here, within the pool and total limits, before aiohttp
            # builds a request, headers and timers (thousands of runs may be queued), and in
            # this frame (each one a waiting run holds is about 250 bytes).
            bound = None if limits is None else _min_of(limits.pool, limits.total)
            started = time.monotonic()
            self._waiting += 1
            waiter, timer = gate.join(bound)
            try:
                placed = await waiter
            except BaseException:
                gate.leave(waiter)
                raise
            finally:
                self._waiting -= 1
                if timer is not None:
                    timer.cancel()
            if not placed:
                raise _waited_too_long()
            limits = _left_after_wait(gate, limits, bound, started)
        timeout = session.timeout
        if limits is not None:  # what a request has left after a wait is not worth caching
            timeout = client_timeout(limits, cache=limits is request.timeout)
        body = request.body
        payload: _StreamPayload | None = None
        answered = False
        try:
            if body is not None and not isinstance(body, bytes):
                payload = _StreamPayload(body)
            async with session.request(
                request.method,
                request.url,
                headers=request.headers,
                data=body if payload is None else payload,
                allow_redirects=False,
                timeout=timeout,
            ) as resp:
                answered = True
                status = resp.status
                headers = resp.headers
                if status in REDIRECT_STATUSES and "Location" in headers:
                    content = b""
                else:
                    content = await read_body(resp, request.max_body)
                # An owned session follows no redirect and has no middleware: the URL that
                # answered is the request's. A caller's session may have either.
                url = request.url if self._owns_session else str(resp.url)
                return HTTPResponse(status, headers, content, url)
        except KycflowError:
            raise
        except Exception as exc:
            mapped = map_exception(exc)  # first: a certificate error is a ValueError too
            if mapped is not None:
                raise mapped[1] from exc
            if not answered and isinstance(exc, ValueError | TypeError):
                # aiohttp refuses a header with CR/LF or a non-str value when the request is
                # built (on entering ``async with``), before a byte is sent. Neither name nor
                # value is quoted: a value may be a credential.
                raise ConfigurationError(
                    f"invalid request: a header or body aiohttp refuses ({type(exc).__name__})"
                ) from None
            raise
        finally:
            try:
                # Only a streamed body's iteration (``_task`` set) can still be running.
                if payload is not None and payload._task is not None:
                    await payload.finished()
            finally:
                if gate is not None:
                    gate.give_back()


class _Places:
    """A first-come, first-served queue for the pool's places: taking a free one is a plain
    call (``asyncio.Semaphore`` costs a coroutine and a scan of its waiters per request)."""

    __slots__ = ("_free", "_waiters")

    def __init__(self, width: int) -> None:
        self._free = width
        self._waiters: deque[asyncio.Future[bool]] = deque()

    def take(self) -> bool:
        """Take a free place, unless every place is taken or others are waiting for one."""
        if self._free > 0 and not self._waiters:
            self._free -= 1
            return True
        return False

    def join(
        self, give_up_after: float | None = None
    ) -> tuple[asyncio.Future[bool], asyncio.TimerHandle | None]:
        """Join the queue: a future that ``give_back`` sets True (a place, in turn) or that is
        set False after ``give_up_after`` seconds; the timer, to cancel once it is done. The
        caller awaits the future in its own frame, and calls ``leave`` if that fails."""
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[bool] = loop.create_future()
        self._waiters.append(waiter)
        # A bare timer, not ``asyncio.timeout``: each of thousands of queued requests holds one.
        timer = (
            None
            if give_up_after is None
            else loop.call_later(give_up_after, _expire, waiter, context=timer_context())
        )
        return waiter, timer

    def leave(self, waiter: asyncio.Future[bool]) -> None:
        """The wait for ``waiter`` failed (cancelled): a place handed over already is passed
        on. A waiter cancelled or timed out before stays in the queue, done: ``give_back``
        skips it."""
        if waiter.done() and not waiter.cancelled() and waiter.result():
            self.give_back()

    def give_back(self) -> None:
        """Free a place: to the first still waiting, if any."""
        waiters = self._waiters
        while waiters:
            waiter = waiters.popleft()
            if not waiter.done():
                waiter.set_result(True)
                return
        self._free += 1


def _expire(waiter: asyncio.Future[bool]) -> None:
    # A result, not an exception: a timed-out waiter left in the queue holds no traceback.
    if not waiter.done():
        waiter.set_result(False)


def _gate_for(connector: aiohttp.BaseConnector | None) -> _Places | None:
    """A queue as wide as the pool (None: no bound). Not narrowed to ``limit_per_host``: one
    queue for every host would hold up a redirect's other host; aiohttp keeps that limit."""
    limit = 0 if connector is None else connector.limit
    return _Places(limit) if limit else None


# After a wait for a connection, a request is sent only with this much of its time left.
_MIN_SEND_SECONDS = 0.05
_MIN_SEND_SHARE = 0.1


def _waited_too_long() -> APITimeoutError:
    # Nothing was sent: a submit that waited this long can be made again safely.
    return APITimeoutError("timed out waiting for a free connection", connecting=True)


def _left_after_wait(
    gate: _Places, limits: Timeouts | None, bound: float | None, started: float
) -> Timeouts | None:
    """The limits left for a request that waited since ``started`` (within ``bound``) for
    the place it holds. A request left with almost none of its time is not sent: a submit
    sent to time out on the way would be an unknown outcome."""
    if limits is None or bound is None:
        return limits
    waited = time.monotonic() - started
    if bound - waited < max(_MIN_SEND_SECONDS, bound * _MIN_SEND_SHARE):
        gate.give_back()
        raise _waited_too_long()
    return replace(
        limits,
        total=None if limits.total is None else limits.total - waited,
        pool=None if limits.pool is None else limits.pool - waited,
    )


def _min_of(*values: float | None) -> float | None:
    present = [v for v in values if v is not None]
    return min(present) if present else None
