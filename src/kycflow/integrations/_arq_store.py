"""Checkpoints in Redis for the arq integration: ``RedisCheckpointStore``, fenced by leases."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol

from pydantic import ValidationError

from ..errors import CheckpointError, ConfigurationError, LeaseLostError
from ..wizard.checkpoint import Checkpoint
from ..wizard.leases import Lease, OnBusy, current_lease
from ._redis_lease import FENCED_SET, RedisLeases, lease_value

__all__ = [
    "DEFAULT_CHECKPOINT_PREFIX",
    "DEFAULT_CHECKPOINT_TTL",
    "DEFAULT_LEASE_TTL",
    "RedisCheckpointStore",
    "RedisClient",
]

DEFAULT_CHECKPOINT_PREFIX = "kycflow:checkpoint:"
DEFAULT_CHECKPOINT_TTL = 7 * 86400.0
DEFAULT_LEASE_TTL = 10.0
"""Seconds a dead worker's lease outlives it: under arq's ``job_timeout + 10`` re-run delay."""


class RedisClient(Protocol):
    """The commands the store uses (``redis.asyncio.Redis`` and arq's ``ArqRedis``); leases
    also use ``exists``, ``incr`` and ``eval``."""

    def get(self, name: str, /) -> Any: ...

    def set(self, name: str, value: str, *, px: int | None = None) -> Any: ...

    def delete(self, *names: str) -> Any: ...

    def eval(self, script: str, numkeys: int, /, *keys_and_args: Any) -> Any: ...


class RedisCheckpointStore:
    """A ``CheckpointStore`` in Redis: one JSON string per checkpoint under ``prefix + key``,
    expiring ``ttl`` seconds after its last save (``None``: never).

    Backend failures and stored data that is not a checkpoint raise ``CheckpointError``.
    """

    def __init__(
        self,
        redis: RedisClient,
        *,
        prefix: str = DEFAULT_CHECKPOINT_PREFIX,
        ttl: float | None = DEFAULT_CHECKPOINT_TTL,
        on_busy: OnBusy = "fail",
        lease_ttl: float = DEFAULT_LEASE_TTL,
        lease_wait: float | None = None,
    ) -> None:
        if ttl is not None and not ttl > 0:
            raise ConfigurationError("ttl must be a positive number of seconds or None")
        if not lease_ttl > 0:
            raise ConfigurationError("lease_ttl must be a positive number of seconds")
        self.redis = redis
        self.prefix = prefix
        self.ttl = ttl
        self.leases = RedisLeases(
            redis,
            prefix=prefix + "lease:",
            ttl=lease_ttl,
            on_busy=on_busy,
            wait=lease_wait,
            holder=self,
        )

    def lease(self, key: str, owner: str) -> AbstractAsyncContextManager[Lease]:
        """Hold ``key`` for a run (see ``kycflow.wizard.leases``): a lock with expiry ``lease_ttl``
        and a fencing token, renewed while held. A second run gets ``RunInProgressError``
        (``on_busy="fail"``) or waits (``"wait"``, at most ``lease_wait`` seconds)."""
        return self.leases.lease(key, owner)

    def __repr__(self) -> str:
        return f"RedisCheckpointStore(prefix={self.prefix!r}, ttl={self.ttl!r})"

    def redis_key(self, key: str) -> str:
        """The Redis key holding checkpoint ``key``."""
        return self.prefix + key

    async def load(self, key: str) -> Checkpoint | None:
        """The checkpoint saved under ``key``, or ``None``."""
        try:
            raw = await self.redis.get(self.redis_key(key))
        except Exception as exc:
            raise CheckpointError(
                f"cannot load checkpoint {key!r}: {type(exc).__name__}", key=key
            ) from exc
        if raw is None:
            return None
        try:
            return Checkpoint.model_validate_json(raw)
        except ValidationError as exc:
            raise CheckpointError(f"checkpoint {key!r} holds invalid data", key=key) from exc

    async def save(self, key: str, checkpoint: Checkpoint) -> None:
        """Store ``checkpoint`` under ``key`` (its TTL starts again)."""
        raw = checkpoint.model_dump_json()
        px = None if self.ttl is None else max(1, int(self.ttl * 1000))
        lease = current_lease()
        fenced = lease is not None and lease.holder is self and lease.key == key
        try:
            if lease is not None and fenced:
                # Written only while the lease is still this run's (its fencing token).
                lease_key = self.leases.redis_key(key)
                args = (lease_value(lease), raw, px or 0)
                written = await self.redis.eval(
                    FENCED_SET, 2, lease_key, self.redis_key(key), *args
                )
            else:
                written = await self.redis.set(self.redis_key(key), raw, px=px)
        except Exception as exc:
            raise CheckpointError(
                f"cannot save checkpoint {key!r}: {type(exc).__name__}", key=key
            ) from exc
        if fenced and not written:
            raise LeaseLostError(
                f"the lease on checkpoint {key!r} expired and another run took it", key=key
            )

    async def delete(self, key: str) -> None:
        """Forget ``key`` (no error if absent)."""
        try:
            await self.redis.delete(self.redis_key(key))
        except Exception as exc:
            raise CheckpointError(
                f"cannot delete checkpoint {key!r}: {type(exc).__name__}", key=key
            ) from exc
