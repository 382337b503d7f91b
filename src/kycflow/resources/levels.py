"""The pure core of waiting for a level: matching levels, the poll schedule, new history entries.

No I/O here: ``wait_for_level`` and ``LevelWatcher`` are thin loops over these functions.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .._constants import (
    LEVEL_POLL_FACTOR,
    LEVEL_POLL_INITIAL,
    LEVEL_POLL_JITTER,
    LEVEL_POLL_MAX,
)
from ..errors import (
    APIConnectionError,
    ConfigurationError,
    ProtocolError,
    RateLimitError,
    ServerError,
    UnknownLevelError,
)
from ..models import Level, Verification

__all__ = [
    "Cursor",
    "LevelMatcher",
    "LevelRef",
    "PollPolicy",
    "advance",
    "baseline",
    "check_positive",
    "is_newest_first",
    "is_transient",
    "levels_in",
    "new_entries",
    "newest_entry",
    "plan_delivery",
]

LevelRef = int | str | Level
"""A level by id (int), by name (str, compared without case or extra spaces) or a ``Level``."""

# A failed read that a later one may get past: the network, the server's overload, a garbled
# reply from a proxy. A refused token or a 404 will not change by waiting.
_TRANSIENT = (APIConnectionError, ServerError, RateLimitError, ProtocolError)


def is_transient(exc: BaseException) -> bool:
    """True when polling again later may succeed where ``exc`` failed."""
    return isinstance(exc, _TRANSIENT)


def check_positive(name: str, value: float | None, *, allow_none: bool = False) -> float | None:
    """``value`` as a float if it is a positive number, else ``ConfigurationError``."""
    if value is None and allow_none:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not value > 0
        or value != value  # NaN
    ):
        raise ConfigurationError(f"{name} must be a positive number of seconds, not {value!r}")
    return float(value)


def _norm(name: str) -> str:
    return " ".join(name.split()).casefold()


def levels_in(entries: Iterable[Verification]) -> list[str]:
    """The level names an entry list mentions (current and previous), first seen first."""
    seen: dict[str, None] = {}
    for entry in entries:
        for level in (entry.previous_level, entry.current_level):
            if level is not None:
                seen.setdefault(level.name or f"#{level.id}", None)
    return list(seen)


class LevelMatcher:
    """Which history entries grant the awaited level.

    ``known`` (level names or ``Level`` objects) is the catalogue of the deployment's levels when
    the caller has one: a name outside it raises ``UnknownLevelError`` at once. The API has no
    endpoint listing levels, so without a catalogue a name can only be checked against the levels
    seen, which is what ``UnknownLevelError`` and ``LevelTimeoutError`` then list.
    """

    __slots__ = ("id", "label", "name")

    def __init__(self, level: LevelRef, known: Iterable[str | Level] | None = None) -> None:
        self.id: int | None = None
        self.name: str | None = None
        if isinstance(level, Level):
            self.id = level.id
        elif isinstance(level, bool) or not isinstance(level, int | str):
            raise ConfigurationError("level must be a level id (int), a name (str) or a Level")
        elif isinstance(level, int):
            self.id = level
        elif not level.strip():
            raise ConfigurationError("level name must not be empty")
        else:
            self.name = _norm(level)
        self.label = (level.name or f"#{level.id}") if isinstance(level, Level) else str(level)
        if known is not None:
            self.check_known(known)

    def check_known(self, known: Iterable[str | Level]) -> None:
        """Raise ``UnknownLevelError`` unless the awaited level is in ``known``."""
        items = [known] if isinstance(known, str) else list(known)
        names = [k.name if isinstance(k, Level) else str(k) for k in items]
        ids = {k.id for k in items if isinstance(k, Level)}
        if self.name is not None and self.name not in {_norm(n) for n in names}:
            raise UnknownLevelError(
                f"unknown level {self.label!r}; levels known: {', '.join(names) or 'none'}",
                level=self.label,
                known=names,
            )
        if self.id is not None and ids and self.id not in ids:
            raise UnknownLevelError(
                f"unknown level id {self.id}; levels known: {', '.join(names) or 'none'}",
                level=self.id,
                known=names,
            )

    def matches(self, level: Level | None) -> bool:
        """True when ``level`` is the awaited one."""
        if level is None:
            return False
        if self.id is not None:
            return level.id == self.id
        return _norm(level.name) == self.name

    def newest(self, entries: Iterable[Verification]) -> Verification | None:
        """The newest entry granting the awaited level (by ``createTime``, then ``id``)."""
        best: Verification | None = None
        for entry in entries:
            if self.matches(entry.current_level) and (best is None or _order(entry) > _order(best)):
                best = entry
        return best


def _order(entry: Verification) -> tuple[float, int]:
    created = entry.create_time
    return (created.timestamp() if created is not None else float("-inf"), entry.id)


def is_newest_first(entries: Sequence[Verification]) -> bool:
    """True unless the entries' ``createTime`` ever grows down the list: a server that ignored
    ``sort_order=desc`` has the new entries on its last page, not its first."""
    times = [e.create_time for e in entries if e.create_time is not None]
    return all(a >= b for a, b in itertools.pairwise(times))


def newest_entry(entries: Iterable[Verification]) -> Verification | None:
    """The newest entry (by ``createTime``, then ``id``), or None."""
    return max(entries, key=_order, default=None)


@dataclass(frozen=True, slots=True)
class PollPolicy:
    """The poll schedule: ``initial`` seconds, times ``factor`` after each empty poll, at most
    ``maximum``. ``jitter`` (0..1) shortens each delay by up to that fraction, at random, so
    users polled together drift apart without any delay exceeding the schedule's."""

    initial: float = LEVEL_POLL_INITIAL
    factor: float = LEVEL_POLL_FACTOR
    maximum: float = LEVEL_POLL_MAX
    jitter: float = LEVEL_POLL_JITTER

    def __post_init__(self) -> None:
        check_positive("initial", self.initial)
        check_positive("maximum", self.maximum)
        if isinstance(self.factor, bool) or not self.factor >= 1:
            raise ConfigurationError("factor must be a number >= 1")
        if not 0 <= self.jitter < 1:
            raise ConfigurationError("jitter must be in [0, 1)")
        if self.maximum < self.initial:
            raise ConfigurationError("maximum must be >= initial")

    def interval(self, empty_polls: int) -> float:
        """The nominal delay after ``empty_polls`` polls that found nothing (0: the first)."""
        # Capped exponent: factor ** n overflows long before anyone waits that long.
        return min(self.maximum, self.initial * self.factor ** min(empty_polls, 200))

    def delay(self, empty_polls: int, rng: random.Random) -> float:
        """The jittered delay before the next poll."""
        nominal = self.interval(empty_polls)
        return nominal * (1.0 - self.jitter * rng.random())


@dataclass(frozen=True, slots=True)
class Cursor:
    """How far one user's history has been delivered: the newest ``createTime`` delivered and
    the ids delivered at that instant (the API's times are to the second)."""

    time: datetime | None = None
    ids: tuple[int, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON data."""
        return {"time": None if self.time is None else self.time.isoformat(), "ids": list(self.ids)}

    @classmethod
    def from_dict(cls, data: Any) -> Cursor:
        """From ``to_dict``'s data (ValueError/TypeError on anything else)."""
        if not isinstance(data, dict):
            raise TypeError("a cursor is an object")
        raw = data.get("time")
        when = None if raw is None else datetime.fromisoformat(str(raw))
        ids = data.get("ids", [])
        if not isinstance(ids, list) or not all(isinstance(i, int) for i in ids):
            raise TypeError("cursor ids must be a list of ints")
        return cls(when, tuple(ids))


def new_entries(entries: Sequence[Verification], cursor: Cursor) -> list[Verification]:
    """The entries after ``cursor``, oldest first."""
    fresh = []
    for entry in entries:
        if entry.id in cursor.ids:
            continue
        created = entry.create_time
        if cursor.time is None or created is None or created >= cursor.time:
            fresh.append(entry)
    return sorted(fresh, key=_order)


def advance(cursor: Cursor, delivered: Verification) -> Cursor:
    """The cursor once ``delivered`` (the next entry, oldest first) has been delivered."""
    created = delivered.create_time
    if created is None:
        return Cursor(cursor.time, (*cursor.ids, delivered.id))
    if cursor.time is not None and created == cursor.time:
        return Cursor(created, (*cursor.ids, delivered.id))
    if cursor.time is not None and created < cursor.time:
        return cursor
    return Cursor(created, (delivered.id,))


def baseline(entries: Sequence[Verification]) -> Cursor:
    """A cursor past every entry in ``entries`` (what a new watch starts from)."""
    cursor = Cursor()
    for entry in sorted(entries, key=_order):
        cursor = advance(cursor, entry)
    return cursor


def plan_delivery(
    entries: Sequence[Verification],
    cursor: Cursor | None,
    matcher: LevelMatcher | None,
    since: datetime | None,
) -> tuple[list[Verification], Cursor, bool]:
    """What one poll of a watched user delivers: ``(fresh entries oldest first, the cursor they
    start from, already_done)``.

    A key without a cursor (its first poll) starts from ``since`` when given; else it delivers
    the awaited level's newest entry if there is one ("already there"), and nothing else.
    ``already_done``: nothing is new, and the awaited level is in the history, delivered by an
    earlier run.
    """
    if cursor is None:
        found = matcher.newest(entries) if matcher is not None else None
        if since is not None:
            start = Cursor(since, ())
            return new_entries(entries, start), start, False
        if found is not None:
            return [found], baseline([e for e in entries if e is not found]), False
        return [], baseline(entries), False
    fresh = new_entries(entries, cursor)
    done = not fresh and matcher is not None and matcher.newest(entries) is not None
    return fresh, cursor, done
