"""Timeout construction: ``ClientTimeout`` objects from the seconds callers give, and deadlines."""

from __future__ import annotations

import aiohttp

from .._constants import DEFAULT_CONNECT_TIMEOUT, DEFAULT_READ_TIMEOUT
from ..errors import ConfigurationError
from .seam import Timeouts

__all__ = ["capped_limits", "client_timeout", "make_timeout", "seam_timeouts"]


def make_timeout(value: float | aiohttp.ClientTimeout | None) -> aiohttp.ClientTimeout:
    """An explicit ``ClientTimeout`` from seconds (total) or a ``ClientTimeout``.

    A float caps the whole call and also bounds connect and each socket read (a read bound
    of no less than the cap is left out: the cap ends the call first). ``None`` means no
    total cap, yet connect and socket reads stay bounded (a bare ``ClientTimeout()`` would wait
    forever). The connect bound is ``sock_connect``, the TCP/TLS connect itself: aiohttp's
    ``connect`` also counts the wait for a free pooled connection, which with many users on one
    pool is normal queueing, not a server that cannot be reached.
    """
    if isinstance(value, aiohttp.ClientTimeout):
        return value
    if value is None:
        return aiohttp.ClientTimeout(
            total=None, sock_connect=DEFAULT_CONNECT_TIMEOUT, sock_read=DEFAULT_READ_TIMEOUT
        )
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ConfigurationError("timeout must be a positive number of seconds")
    seconds = float(value)
    return aiohttp.ClientTimeout(
        total=seconds,
        sock_connect=min(DEFAULT_CONNECT_TIMEOUT, seconds),
        sock_read=DEFAULT_READ_TIMEOUT if seconds > DEFAULT_READ_TIMEOUT else None,
    )


def capped_limits(limits: Timeouts, remaining: float) -> Timeouts:
    """``limits`` with the total cut to the ``remaining`` seconds of a call's deadline."""
    if limits.total is not None and limits.total <= remaining:
        return limits  # already within the deadline: the same object, no new one per call
    total = remaining if limits.total is None else min(limits.total, remaining)
    return Timeouts(total=total, connect=limits.connect, read=limits.read, pool=limits.pool)


# Cached both ways, by identity: a call's timeout is most often one shared object (the client's
# default), and hashing either (attrs' and dataclasses' ``__hash__`` are Python) costs more than
# a look-up by ``id``. Each entry holds its key object, so that ``id`` cannot be reused.
_CACHE_LIMIT = 256
_SEAM: dict[int, tuple[aiohttp.ClientTimeout, Timeouts]] = {}
_AIOHTTP: dict[int, tuple[Timeouts, aiohttp.ClientTimeout]] = {}


def seam_timeouts(timeout: aiohttp.ClientTimeout) -> Timeouts:
    """``timeout`` as the seam's ``Timeouts`` (``sock_connect`` is the connect bound)."""
    entry = _SEAM.get(id(timeout))
    if entry is not None and entry[0] is timeout:
        return entry[1]
    value = Timeouts(
        total=timeout.total,
        connect=timeout.sock_connect,
        read=timeout.sock_read,
        pool=timeout.connect,
    )
    if len(_SEAM) >= _CACHE_LIMIT:
        _SEAM.clear()
    _SEAM[id(timeout)] = (timeout, value)
    return value


def client_timeout(timeouts: Timeouts, *, cache: bool = True) -> aiohttp.ClientTimeout:
    """The seam's ``Timeouts`` as aiohttp's ``ClientTimeout`` (``AiohttpTransport``'s side);
    ``cache=False`` for a one-off object (what a request has left after a wait)."""
    entry = _AIOHTTP.get(id(timeouts))
    if entry is not None and entry[0] is timeouts:
        return entry[1]
    value = aiohttp.ClientTimeout(
        total=timeouts.total,
        connect=timeouts.pool,
        sock_connect=timeouts.connect,
        sock_read=timeouts.read,
    )
    if cache:
        if len(_AIOHTTP) >= _CACHE_LIMIT:
            _AIOHTTP.clear()
        _AIOHTTP[id(timeouts)] = (timeouts, value)
    return value
