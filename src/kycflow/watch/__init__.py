"""Learn when levels are granted: ``LevelWatcher`` for many users, cursor stores, events,
and fleets of workers sharing the users through Redis (``FleetRegistry``, ``FleetWatcher``).

See docs/watch.md. (One user: ``client.verifications.wait_for_level``.)
"""

from ..resources.levels import Cursor, PollPolicy
from .bucket import TokenBucket
from .events import LevelGranted
from .fleet import FleetWatcher
from .registry import FleetRegistry, event_from_stream
from .store import CursorStore, MemoryCursorStore, RedisCursorStore
from .watcher import WATCH_POLICY, LevelWatcher

__all__ = [
    "WATCH_POLICY",
    "Cursor",
    "CursorStore",
    "FleetRegistry",
    "FleetWatcher",
    "LevelGranted",
    "LevelWatcher",
    "MemoryCursorStore",
    "PollPolicy",
    "RedisCursorStore",
    "TokenBucket",
    "event_from_stream",
]
