"""Leases: one run per checkpoint key at a time.

A checkpoint store that can lease (``LeasingStore``) hands a run a ``Lease`` on its key for the
run's lifetime. A second run of the same key either fails fast with ``RunInProgressError`` or
waits for the lease (``on_busy``, set on the store), and never submits while the first holds it.

A lease carries a fencing ``token`` that grows with every grant of the key. A store with expiring
leases (Redis) checks it on every save: a run whose lease expired and was taken by another run
gets ``LeaseLostError`` at its next save, and the runner saves before every submit, so a run that
lost its lease submits nothing more. ``MemoryLeases`` (per process) never expire.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

from ..errors import ConfigurationError, RunInProgressError

__all__ = [
    "Lease",
    "LeasingStore",
    "MemoryLeases",
    "OnBusy",
    "check_on_busy",
    "current_lease",
    "hold_lease",
]

OnBusy = Literal["wait", "fail"]
"""What a second run of a leased key does: wait for the lease, or fail fast."""

_CURRENT: ContextVar[Lease | None] = ContextVar("kycflow_lease", default=None)


@dataclass(slots=True)
class Lease:
    """A run's hold on ``key``: ``token`` is its fencing token, ``owner`` the run's id.
    ``lost`` turns true when an expiring lease could not be renewed in time."""

    key: str
    token: int
    owner: str
    holder: object = field(default=None, repr=False)
    """The object that granted it (a store checks ``current_lease().holder is self``)."""
    lost: bool = False


@runtime_checkable
class LeasingStore(Protocol):
    """A checkpoint store that can lease its keys."""

    def lease(self, key: str, owner: str) -> AbstractAsyncContextManager[Lease]:
        """Hold ``key`` for the ``async with`` block (``RunInProgressError`` when busy)."""
        ...


def check_on_busy(on_busy: str, wait: float | None) -> None:
    """Raise ``ConfigurationError`` for a bad ``on_busy``/``lease_wait`` pair."""
    if on_busy not in ("wait", "fail"):
        raise ConfigurationError("on_busy must be 'wait' or 'fail'")
    if wait is not None and not wait > 0:
        raise ConfigurationError("lease_wait must be a positive number of seconds or None")


def current_lease() -> Lease | None:
    """The lease held by the running task's run, if any."""
    return _CURRENT.get()


@asynccontextmanager
async def hold_lease(store: object, key: str | None, owner: str) -> AsyncIterator[Lease | None]:
    """Hold ``store``'s lease on ``key`` when it can lease (else hold nothing) and make it the
    ``current_lease`` of the block."""
    if key is None or not isinstance(store, LeasingStore):
        yield None
        return
    async with store.lease(key, owner) as lease:
        reset = _CURRENT.set(lease)
        try:
            yield lease
        finally:
            _CURRENT.reset(reset)


def busy_error(key: str, waited: float | None) -> RunInProgressError:
    """The error of a second run of ``key``."""
    how = "" if waited is None else f" (waited {waited:.1f} s)"
    return RunInProgressError(
        f"another run holds checkpoint key {key!r}{how}; this run submitted nothing", key=key
    )


class MemoryLeases:
    """Per-process leases: at most one holder per key among this process's tasks."""

    def __init__(self, on_busy: OnBusy = "fail", wait: float | None = None) -> None:
        check_on_busy(on_busy, wait)
        self.on_busy: OnBusy = on_busy
        self.wait = wait
        self._held: dict[str, Lease] = {}
        self._released: dict[str, asyncio.Event] = {}
        self._tokens: dict[str, int] = {}

    def holder_of(self, key: str) -> Lease | None:
        """The lease held on ``key``, if any."""
        return self._held.get(key)

    @asynccontextmanager
    async def lease(self, key: str, owner: str) -> AsyncIterator[Lease]:
        """Hold ``key`` for the block."""
        started = time.monotonic()
        while key in self._held:
            if self.on_busy == "fail":
                raise busy_error(key, None)
            released = self._released.setdefault(key, asyncio.Event())
            remaining = None if self.wait is None else self.wait - (time.monotonic() - started)
            if remaining is not None and remaining <= 0:
                raise busy_error(key, time.monotonic() - started)
            try:
                async with asyncio.timeout(remaining):
                    await released.wait()
            except TimeoutError:
                raise busy_error(key, time.monotonic() - started) from None
        token = self._tokens.get(key, 0) + 1
        self._tokens[key] = token
        lease = self._held[key] = Lease(key, token, owner, self)
        try:
            yield lease
        finally:
            del self._held[key]
            event = self._released.pop(key, None)
            if event is not None:
                event.set()
