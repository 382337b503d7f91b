"""Watching levels on a fleet of arq workers (``pip install kycflow[arq]``).

``make_watch_worker_settings(base_url=..., redis=...)`` is the settings class ``arq`` runs:
each worker process opens one ``kycflow.Client`` and runs a ``FleetWatcher`` beside arq's job
loop, sharing the watched users with the other workers through Redis (a lease per user). Users
are added with ``FleetRegistry(redis).add(...)`` from any process, or by enqueueing the
``kycflow_watch_user`` job (``enqueue_watch``). Grants land in the Redis stream
``kycflow:watch:grants`` (read them with ``event_from_stream``) and/or an ``on_grant`` callback.
See docs/watch.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from ..client import Client
from ..errors import ConfigurationError
from ..resources.levels import PollPolicy
from ..watch.events import LevelGranted
from ..watch.fleet import FleetWatcher
from ..watch.registry import DEFAULT_PREFIX, AuthResolver, FleetRegistry, default_resolve_auth
from ..watch.watcher import WATCH_POLICY
from . import arq_module

__all__ = ["ADD_FUNCTION", "CTX_KEY", "enqueue_watch", "make_watch_worker_settings", "watch_user"]

ADD_FUNCTION = "kycflow_watch_user"
CTX_KEY = "kycflow_watch"


def _redis_settings(redis: Any) -> Any:
    if redis is not None and not isinstance(redis, str):
        return redis
    connections = arq_module("arq.connections")
    url = redis or os.environ.get("KYCFLOW_REDIS_URL") or os.environ.get("REDIS_URL")
    return connections.RedisSettings.from_dsn(url) if url else connections.RedisSettings()


async def watch_user(
    ctx: dict[str, Any],
    key: str,
    auth_ref: Mapping[str, Any],
    level: int | str | None = None,
    prefix: str = DEFAULT_PREFIX,
) -> None:
    """The arq job that registers a user with the fleet."""
    await FleetRegistry(ctx["redis"], prefix=prefix).add(key, auth_ref, level=level)


async def enqueue_watch(
    redis: Any, key: str, auth_ref: Mapping[str, Any], *, level: int | str | None = None
) -> None:
    """Enqueue ``watch_user`` (for apps that only speak arq; ``FleetRegistry.add`` is direct)."""
    if "token" in auth_ref:
        raise ConfigurationError("auth_ref names credentials; a raw token is refused")
    await redis.enqueue_job(ADD_FUNCTION, key, dict(auth_ref), level)


def make_watch_worker_settings(
    *,
    base_url: str,
    redis: Any = None,
    client_options: Mapping[str, Any] | None = None,
    resolve_auth: AuthResolver = default_resolve_auth,
    on_grant: Callable[[LevelGranted], Awaitable[None] | None] | None = None,
    stream: bool = True,
    prefix: str = DEFAULT_PREFIX,
    max_rps: float = 10.0,
    concurrency: int = 50,
    poll: PollPolicy = WATCH_POLICY,
    lease_ttl: float = 30.0,
    tick: float = 0.2,
    **worker_options: Any,
) -> type:
    """A ``WorkerSettings`` class for ``arq`` whose workers share the watched users.

    ``redis``: ``RedisSettings``, a ``redis://`` URL, or None (``$KYCFLOW_REDIS_URL``...).
    ``max_rps`` and ``concurrency`` bound each worker; ``lease_ttl`` is how soon a dead
    worker's users are polled by another. ``worker_options``: other ``arq.Worker`` settings.
    """
    worker = arq_module("arq.worker")
    client_kwargs = dict(client_options or {})

    async def startup(ctx: dict[str, Any]) -> None:
        client = Client(base_url, **client_kwargs)
        fleet = FleetWatcher(
            client,
            ctx["redis"],
            prefix=prefix,
            stream=stream,
            on_grant=on_grant,
            resolve_auth=resolve_auth,
            max_rps=max_rps,
            concurrency=concurrency,
            poll=poll,
            lease_ttl=lease_ttl,
            tick=tick,
        )
        ctx[CTX_KEY] = (client, fleet, asyncio.create_task(fleet.run()))

    async def shutdown(ctx: dict[str, Any]) -> None:
        state = ctx.pop(CTX_KEY, None)
        if state is None:
            return
        client, _, task = state
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await client.aclose()

    attrs: dict[str, Any] = {
        "functions": [worker.func(watch_user, name=ADD_FUNCTION)],
        "redis_settings": _redis_settings(redis),
        "on_startup": startup,
        "on_shutdown": shutdown,
        **worker_options,
    }
    return type("WatchWorkerSettings", (), attrs)
