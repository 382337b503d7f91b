"""Cursor stores: where a ``LevelWatcher`` keeps, per key, how far it has delivered grants.

A grant is delivered, then the cursor saved, so a restarted watcher (the same store) does not
deliver it again. ``MemoryCursorStore`` lives as long as the process; ``RedisCursorStore``
survives restarts and is shared by a fleet.
"""

from __future__ import annotations

import json
from typing import Any, Protocol, runtime_checkable

from ..errors import CursorStoreError
from ..resources.levels import Cursor

__all__ = ["CursorStore", "MemoryCursorStore", "RedisCursorStore"]


@runtime_checkable
class CursorStore(Protocol):
    """Load, save and delete one cursor per key; ``ping`` checks the backend is reachable.

    Every failure is a ``CursorStoreError``.
    """

    async def ping(self) -> None:
        """Raise ``CursorStoreError`` when the store cannot be used."""
        ...

    async def load(self, key: str) -> Cursor | None:
        """The key's cursor, or None if it has none."""
        ...

    async def save(self, key: str, cursor: Cursor) -> None:
        """Store the key's cursor."""
        ...

    async def delete(self, key: str) -> None:
        """Forget the key's cursor."""
        ...


class MemoryCursorStore:
    """Cursors in a dict (one process; tests)."""

    def __init__(self) -> None:
        self.cursors: dict[str, Cursor] = {}

    async def ping(self) -> None:
        """Always reachable."""

    async def load(self, key: str) -> Cursor | None:
        """The key's cursor, or None."""
        return self.cursors.get(key)

    async def save(self, key: str, cursor: Cursor) -> None:
        """Store the key's cursor."""
        self.cursors[key] = cursor

    async def delete(self, key: str) -> None:
        """Forget the key's cursor."""
        self.cursors.pop(key, None)


class _Redis(Protocol):
    async def ping(self) -> Any: ...
    async def get(self, name: str) -> Any: ...
    async def set(self, name: str, value: str) -> Any: ...
    async def delete(self, *names: str) -> Any: ...


class RedisCursorStore:
    """Cursors in Redis as JSON strings under ``prefix + key``.

    ``redis`` is a ``redis.asyncio.Redis`` (or arq's ``ArqRedis``); ``RedisCursorStore.from_url``
    makes one. No expiry: a cursor must outlive any restart.
    """

    def __init__(self, redis: _Redis, *, prefix: str = "kycflow:watch:cursor:") -> None:
        self.redis = redis
        self.prefix = prefix

    @classmethod
    def from_url(cls, url: str, *, prefix: str = "kycflow:watch:cursor:") -> RedisCursorStore:
        """A store over a new ``redis.asyncio`` client of ``url`` (needs the redis package)."""
        try:
            import redis.asyncio as redis_asyncio
        except ImportError as exc:  # pragma: no cover - redis is a test dependency
            raise CursorStoreError("RedisCursorStore needs the redis package") from exc
        client: Any = redis_asyncio.Redis.from_url(url, socket_connect_timeout=5)
        return cls(client, prefix=prefix)

    async def _call(self, what: str, key: str | None, op: Any) -> Any:
        try:
            return await op
        except CursorStoreError:
            raise
        except Exception as exc:  # redis raises ConnectionError, TimeoutError, ResponseError...
            where = f" for {key!r}" if key is not None else ""
            raise CursorStoreError(
                f"cursor store: {what}{where} failed ({type(exc).__name__})", key=key
            ) from None

    async def ping(self) -> None:
        """Raise ``CursorStoreError`` when Redis cannot be reached."""
        await self._call("ping", None, self.redis.ping())

    async def load(self, key: str) -> Cursor | None:
        """The key's cursor, or None."""
        raw = await self._call("load", key, self.redis.get(self.prefix + key))
        if raw is None:
            return None
        try:
            return Cursor.from_dict(json.loads(raw))
        except (TypeError, ValueError) as exc:
            raise CursorStoreError(f"cursor {key!r} holds invalid data", key=key) from exc

    async def save(self, key: str, cursor: Cursor) -> None:
        """Store the key's cursor."""
        raw = json.dumps(cursor.to_dict(), separators=(",", ":"))
        await self._call("save", key, self.redis.set(self.prefix + key, raw))

    async def delete(self, key: str) -> None:
        """Forget the key's cursor."""
        await self._call("delete", key, self.redis.delete(self.prefix + key))
