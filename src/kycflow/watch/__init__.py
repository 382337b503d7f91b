"""Learn when levels are granted: ``LevelWatcher`` for many users, cursor stores, events.

See docs/watch.md. (One user: ``client.verifications.wait_for_level``.)
"""

from .._levels import Cursor, PollPolicy
from .bucket import TokenBucket
from .events import LevelGranted
from .store import CursorStore, MemoryCursorStore, RedisCursorStore
from .watcher import WATCH_POLICY, LevelWatcher

__all__ = [
    "WATCH_POLICY",
    "Cursor",
    "CursorStore",
    "LevelGranted",
    "LevelWatcher",
    "MemoryCursorStore",
    "PollPolicy",
    "RedisCursorStore",
    "TokenBucket",
]
