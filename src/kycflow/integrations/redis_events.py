"""A run's events on a Redis stream per job key: progress across processes (``kycflow[arq]``).

A web app with several processes, or a fleet of arq workers, publishes each run's
``WizardEvent``s with ``RedisEventPublisher`` (``XADD`` with an approximate ``MAXLEN``, so a
stream stays bounded, and a TTL renewed on every event, so abandoned streams go away). Any
process reads them back with ``read_events``, an async iterator that resumes from the last id
it gave (the id a browser sends back as ``Last-Event-ID``, say).

    publisher = RedisEventPublisher(redis)
    runner = WizardRunner(client, provider, on_event=publisher.on_event("job-42"))
    run_many(jobs, client=client, on_event=publisher)   # a (key, event) callback as it is

    async for item in read_events(redis, "job-42", last_id=resume_from):
        print(item.id, item.data["event"])

Events carry identifiers and counts only (see ``kycflow.wizard.events``): never a token or file
content. The redis client is the caller's (``redis.asyncio.Redis`` or arq's pool): it is never
closed here, and ``redis`` is not imported by this module.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from ..errors import ConfigurationError, KycflowError
from ..wizard.events import WizardEvent

__all__ = [
    "DEFAULT_EVENTS_MAXLEN",
    "DEFAULT_EVENTS_PREFIX",
    "DEFAULT_EVENTS_TTL",
    "END_EVENTS",
    "EventStreamError",
    "RedisEventPublisher",
    "StreamEvent",
    "read_events",
    "stream_key",
]

DEFAULT_EVENTS_PREFIX = "kycflow:events:"
DEFAULT_EVENTS_MAXLEN = 1000
"""Events kept per stream (approximately: Redis trims whole nodes, ``MAXLEN ~``)."""
DEFAULT_EVENTS_TTL = 86400.0
END_EVENTS = frozenset({"wizard.completed", "wizard.failed"})
"""Event names after which ``read_events`` stops by default."""
_FIELD = "event"


class EventStreamError(KycflowError):
    """Redis failed, or a stream entry is not an event this module wrote."""


class EventRedis(Protocol):
    """The commands used (``redis.asyncio.Redis`` and arq's ``ArqRedis`` have them)."""

    def xadd(
        self, name: str, fields: Any, *, maxlen: int | None = ..., approximate: bool = ...
    ) -> Any: ...

    def expire(self, name: str, time: int) -> Any: ...

    def xread(self, streams: Any, count: int | None = ..., block: int | None = ...) -> Any: ...


def stream_key(job_key: str, *, prefix: str = DEFAULT_EVENTS_PREFIX) -> str:
    """The Redis key of the stream of ``job_key``'s events."""
    return prefix + job_key


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes | bytearray) else str(value)


class RedisEventPublisher:
    """Publishes run events to ``prefix + job_key`` streams of at most about ``maxlen``
    entries, each stream expiring ``ttl`` seconds after its last event (``None``: never).

    ``await publisher(job_key, event)`` is a ``run_many`` ``on_event`` callback as it is;
    ``publisher.on_event(job_key)`` gives a ``WizardRunner`` one. Failures raise
    ``EventStreamError`` (which the runner and ``run_many`` log and ignore: progress must not
    break a verification).
    """

    def __init__(
        self,
        redis: EventRedis,
        *,
        prefix: str = DEFAULT_EVENTS_PREFIX,
        maxlen: int = DEFAULT_EVENTS_MAXLEN,
        ttl: float | None = DEFAULT_EVENTS_TTL,
    ) -> None:
        if isinstance(maxlen, bool) or not isinstance(maxlen, int) or maxlen < 1:
            raise ConfigurationError("maxlen must be a positive integer")
        if ttl is not None and not ttl >= 1:
            raise ConfigurationError("ttl must be at least one second, or None")
        self.redis = redis
        self.prefix = prefix
        self.maxlen = maxlen
        self.ttl = ttl

    def __repr__(self) -> str:
        return f"RedisEventPublisher(prefix={self.prefix!r}, maxlen={self.maxlen})"

    def stream_key(self, job_key: str) -> str:
        """The Redis key of ``job_key``'s stream."""
        return stream_key(job_key, prefix=self.prefix)

    async def publish(self, job_key: str, event: WizardEvent | Mapping[str, Any]) -> str:
        """Append ``event`` (or its ``to_dict()`` form) to ``job_key``'s stream; its id."""
        data = event.to_dict() if isinstance(event, WizardEvent) else dict(event)
        try:
            payload = json.dumps(data, separators=(",", ":"))
        except (TypeError, ValueError) as exc:
            raise ConfigurationError("an event must be JSON data") from exc
        key = self.stream_key(job_key)
        try:
            entry = await self.redis.xadd(
                key, {_FIELD: payload}, maxlen=self.maxlen, approximate=True
            )
            if self.ttl is not None:
                await self.redis.expire(key, int(self.ttl))
        except Exception as exc:
            raise EventStreamError(
                f"cannot publish to the event stream: {type(exc).__name__}"
            ) from exc
        return _text(entry)

    async def __call__(self, job_key: str, event: WizardEvent) -> None:
        await self.publish(job_key, event)

    def on_event(self, job_key: str) -> Callable[[WizardEvent], Awaitable[None]]:
        """A ``WizardRunner`` ``on_event`` callback publishing to ``job_key``'s stream."""

        async def publish(event: WizardEvent) -> None:
            await self.publish(job_key, event)

        return publish


@dataclass(frozen=True)
class StreamEvent:
    """One event read back: its stream ``id`` (resume after it) and its JSON ``data``."""

    id: str
    data: dict[str, Any]


async def read_events(
    redis: EventRedis,
    job_key: str,
    *,
    last_id: str = "0-0",
    prefix: str = DEFAULT_EVENTS_PREFIX,
    block: float | None = 5.0,
    idle_timeout: float | None = None,
    stop_after: Collection[str] = END_EVENTS,
    count: int = 100,
) -> AsyncIterator[StreamEvent]:
    """``job_key``'s events after ``last_id`` (``"0-0"``: from the first kept), in order.

    Waits up to ``block`` seconds per read for new events (``None``: does not wait, and ends
    when the stream has nothing more). Ends after an event named in ``stop_after`` (by default
    a run's completion or failure; pass ``()`` to follow the stream for good: an arq job's
    failed try may be followed by another), or after ``idle_timeout`` seconds without a new
    event. Resume an interrupted reader by passing the ``id`` of the last event it got.
    """
    if block is not None and not block > 0:
        raise ConfigurationError("block must be a positive number of seconds, or None")
    key = stream_key(job_key, prefix=prefix)
    wait = None if block is None else max(1, int(block * 1000))
    idle = 0.0
    while True:
        try:
            reply = await redis.xread({key: last_id}, count=count, block=wait)
        except Exception as exc:
            raise EventStreamError(f"cannot read the event stream: {type(exc).__name__}") from exc
        entries = [entry for _, batch in (reply or []) for entry in batch]
        if not entries:
            if block is None:
                return
            idle += block
            if idle_timeout is not None and idle >= idle_timeout:
                return
            continue
        idle = 0.0
        for raw_id, fields in entries:
            last_id = _text(raw_id)
            item = StreamEvent(last_id, _decode(fields))
            yield item
            if item.data.get("event") in stop_after:
                return


def _decode(fields: Mapping[Any, Any]) -> dict[str, Any]:
    raw = fields.get(_FIELD, fields.get(_FIELD.encode()))
    try:
        data = json.loads(raw)
    except (TypeError, ValueError) as exc:
        raise EventStreamError("a stream entry is not a kycflow event") from exc
    if not isinstance(data, dict):
        raise EventStreamError("a stream entry is not a kycflow event")
    return data
