"""What a ``LevelWatcher`` delivers: a ``LevelGranted`` event per new history entry."""

from __future__ import annotations

from dataclasses import dataclass

from ..models import Level, Verification

__all__ = ["LevelGranted"]


@dataclass(frozen=True, slots=True)
class LevelGranted:
    """A level was granted to the user watched under ``key``.

    ``verification`` is the history entry; ``previous_level`` and ``current_level`` are its
    levels (``previous_level`` None for the initial grant). ``awaited`` is True when this is the
    level the watch was waiting for (the user is then no longer watched).
    """

    key: str
    verification: Verification
    previous_level: Level | None
    current_level: Level | None
    awaited: bool = False
