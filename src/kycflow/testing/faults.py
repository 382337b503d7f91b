"""Deterministic fault injection for the sandbox.

Each request on a named route is the n-th request of some user on that route. Whether it gets a
fault, and which, is decided by a hash of ``(seed, route, user, n)``: the same sequence of
requests per user gets the same faults however many users interleave. On top of the random
rates, ``fail_next`` queues exact faults and ``add_window`` faults every request of a period.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ._fault_kinds import (
    ANY_ROUTE,
    CLASSIC_KINDS,
    COMMIT_KINDS,
    KIND_ORDER,
    LATE_COMMIT_STATUSES,
    ROUTES,
    SERVER_ERROR_STATUSES,
    Fault,
    FaultKind,
    Window,
    parse_kind,
)

__all__ = ["CLASSIC_KINDS", "COMMIT_KINDS", "ROUTES", "Fault", "FaultKind", "Faults", "Window"]


@dataclass(slots=True)
class _Queued:
    kind: FaultKind
    remaining: int
    user: str | None
    status: int | None


@dataclass
class Faults:
    """Fault configuration and its deterministic decisions.

    ``rates`` maps a route name (or ``"*"`` for every route) to ``{kind: probability}``; the
    route's own entry wins over ``"*"`` kind by kind. The probabilities of one route must sum to
    at most 1. ``retry_after`` is the 429's ``Retry-After`` in seconds (0 allowed).
    """

    seed: int = 0
    rates: Mapping[str, Mapping[FaultKind | str, float]] = field(default_factory=dict)
    retry_after: float = 1.0
    slow_delay: float = 0.5
    server_error_statuses: tuple[int, ...] = SERVER_ERROR_STATUSES
    late_commit_delay: float = 1.5
    _queued: dict[str, list[_Queued]] = field(default_factory=dict, repr=False)
    _windows: list[Window] = field(default_factory=list, repr=False)
    _seed_bytes: bytes = field(default=b"", repr=False)
    _rates: dict[str, dict[FaultKind, float]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        normalised: dict[str, dict[FaultKind, float]] = {}
        for route, kinds in self.rates.items():
            table = {parse_kind(kind): float(rate) for kind, rate in kinds.items()}
            if any(rate < 0 for rate in table.values()) or sum(table.values()) > 1.0 + 1e-9:
                raise ValueError(f"fault rates of route {route!r} must be >= 0 and sum to <= 1")
            normalised[route] = table
        self._rates = normalised
        if min(self.retry_after, self.slow_delay, self.late_commit_delay) < 0:
            raise ValueError("retry_after, slow_delay and late_commit_delay must be >= 0")
        self._seed_bytes = str(self.seed).encode()

    @classmethod
    def none(cls) -> Faults:
        """No faults at all."""
        return cls()

    @classmethod
    def uniform(
        cls, rate: float, *, seed: int = 0, kinds: Iterable[FaultKind | str] = (), **kwargs: Any
    ) -> Faults:
        """Every route faults with total probability ``rate``, split evenly across ``kinds``
        (the ``CLASSIC_KINDS`` except SLOW when empty)."""
        chosen = [parse_kind(k) for k in kinds] or [
            k for k in CLASSIC_KINDS if k is not FaultKind.SLOW
        ]
        share = rate / len(chosen)
        return cls(seed=seed, rates={ANY_ROUTE: dict.fromkeys(chosen, share)}, **kwargs)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Faults:
        """Faults from plain data: ``{"seed", "rates", "retry_after", "slow_delay",
        "server_error_statuses", "fail_next": [{"route", "kind", "n", "user", "status"}],
        "windows": [{"kind", "route", "seconds", "requests", "status"}]}``."""
        faults = cls(
            seed=int(data.get("seed", 0)),
            rates={str(r): dict(k) for r, k in dict(data.get("rates", {})).items()},
            retry_after=float(data.get("retry_after", 1.0)),
            slow_delay=float(data.get("slow_delay", 0.5)),
            server_error_statuses=tuple(
                int(s) for s in data.get("server_error_statuses", SERVER_ERROR_STATUSES)
            ),
            late_commit_delay=float(data.get("late_commit_delay", 1.5)),
        )
        for item in data.get("fail_next", ()):
            faults.fail_next(
                str(item["route"]),
                item["kind"],
                int(item.get("n", 1)),
                user=item.get("user"),
                status=item.get("status"),
            )
        for item in data.get("windows", ()):
            faults.add_window(
                item["kind"],
                route=str(item.get("route", ANY_ROUTE)),
                seconds=item.get("seconds"),
                requests=item.get("requests"),
                status=item.get("status"),
            )
        return faults

    def fail_next(
        self,
        route: str,
        kind: FaultKind | str,
        n: int = 1,
        *,
        user: str | None = None,
        status: int | None = None,
    ) -> Faults:
        """Fault the next ``n`` requests on ``route`` (of ``user``, an email, when given)."""
        if n < 1:
            raise ValueError("n must be >= 1")
        self._queued.setdefault(route, []).append(_Queued(parse_kind(kind), n, user, status))
        return self

    def add_window(
        self,
        kind: FaultKind | str,
        *,
        route: str = ANY_ROUTE,
        seconds: float | None = None,
        requests: int | None = None,
        status: int | None = None,
    ) -> Faults:
        """Fault every request on ``route`` during the first ``seconds`` (from now) and/or the
        first ``requests`` requests. With both, a request must fall in both."""
        if seconds is None and requests is None:
            raise ValueError("a window needs seconds or requests")
        window = Window(parse_kind(kind), route, seconds, requests, status)
        window.start_clock()
        self._windows.append(window)
        return self

    def reset_clock(self) -> None:
        """Restart the windows' clocks and request counts (a sandbox does this on start)."""
        for window in self._windows:
            window.seen = 0
            window.start_clock()

    def decide(self, route: str, user: str, n: int) -> Fault | None:
        """The fault for the ``n``-th (0-based) request of ``user`` on ``route``, if any."""
        queued = self._queued.get(route)
        if queued:
            for entry in queued:
                if entry.user is None or entry.user == user:
                    entry.remaining -= 1
                    if entry.remaining == 0:
                        queued.remove(entry)
                    return self._fault(entry.kind, entry.status, 0.0)
        for window in self._windows:
            if window.route not in (ANY_ROUTE, route):
                continue
            window.seen += 1
            in_requests = window.requests is None or window.seen <= window.requests
            in_time = window.until is None or time.monotonic() < window.until
            if in_requests and in_time:
                return self._fault(window.kind, window.status, 0.0)
        table = self._table(route)
        if not table:
            return None
        digest = hashlib.blake2b(
            b"%b\x00%b\x00%b\x00%d" % (self._seed_bytes, route.encode(), user.encode(), n),
            digest_size=16,
        ).digest()
        draw = int.from_bytes(digest[:8], "big") / 2**64
        pick = int.from_bytes(digest[8:], "big") / 2**64
        edge = 0.0
        for kind in KIND_ORDER:
            edge += table.get(kind, 0.0)
            if draw < edge:
                return self._fault(kind, None, pick)
        return None

    def _table(self, route: str) -> dict[FaultKind, float]:
        specific = self._rates.get(route)
        common = self._rates.get(ANY_ROUTE)
        if common is None:
            return specific or {}
        if specific is None:
            return common
        return {**common, **specific}

    def _fault(self, kind: FaultKind, status: int | None, pick: float) -> Fault:
        if kind is FaultKind.SERVER_ERROR and status is None:
            statuses = self.server_error_statuses
            status = statuses[int(pick * len(statuses)) % len(statuses)]
        elif kind is FaultKind.LATE_COMMIT and status is None:
            status = LATE_COMMIT_STATUSES[int(pick * 2) % 2]
        return Fault(kind, status)

    def to_dict(self) -> dict[str, Any]:
        """The configuration as plain data (pending ``fail_next`` and windows included)."""
        return {
            "seed": self.seed,
            "rates": {r: {k.value: v for k, v in t.items()} for r, t in self._rates.items()},
            "retry_after": self.retry_after,
            "slow_delay": self.slow_delay,
            "server_error_statuses": list(self.server_error_statuses),
            "late_commit_delay": self.late_commit_delay,
            "fail_next": [
                {
                    "route": r,
                    "kind": q.kind.value,
                    "n": q.remaining,
                    "user": q.user,
                    "status": q.status,
                }
                for r, entries in self._queued.items()
                for q in entries
            ],
            "windows": [
                {
                    "kind": w.kind.value,
                    "route": w.route,
                    "seconds": w.seconds,
                    "requests": w.requests,
                    "status": w.status,
                }
                for w in self._windows
            ],
        }
