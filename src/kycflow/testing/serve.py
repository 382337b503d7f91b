"""Run the sandbox as a process: ``serve(...)``, ``python -m kycflow.testing``, the CLI."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

from .faults import Faults
from .sandbox import Sandbox
from .scenario import Scenario

__all__ = [
    "DEFAULT_ACCESS_TOKEN_TTL",
    "add_serve_arguments",
    "main",
    "sandbox_options",
    "serve",
    "serve_async",
]

DEFAULT_ACCESS_TOKEN_TTL = 3600.0


async def serve_async(
    host: str = "127.0.0.1",
    port: int = 8080,
    scenario_file: str | Path | None = None,
    seed: int = 0,
    *,
    faults: Faults | None = None,
    on_ready: Callable[[Sandbox], Awaitable[None] | None] | None = None,
    stop: asyncio.Event | None = None,
    announce: bool = True,
    **sandbox_kwargs: Any,
) -> None:
    """Serve until ``stop`` is set, the task is cancelled, or SIGINT/SIGTERM arrives.

    Prints the base URL when ``announce``; then calls ``on_ready(sandbox)`` (sync or async),
    which may create users or print more.
    """
    scenario = Scenario.load(scenario_file) if scenario_file else Scenario.default()
    sandbox = Sandbox(
        scenario, faults=faults or Faults(seed=seed), host=host, port=port, **sandbox_kwargs
    )
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(signum, stop.set)
    async with sandbox:
        if announce:
            # One parseable line: a parent process reads the port from it when it asked for 0.
            print(f"kycflow sandbox listening on {sandbox.base_url}", flush=True)
        if on_ready is not None:
            outcome = on_ready(sandbox)
            if outcome is not None:
                await outcome
        await stop.wait()


def serve(
    host: str = "127.0.0.1",
    port: int = 8080,
    scenario_file: str | Path | None = None,
    seed: int = 0,
    **kwargs: Any,
) -> None:
    """Serve the sandbox in this process until SIGINT/SIGTERM (blocking)."""
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve_async(host, port, scenario_file, seed, **kwargs))


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    """The sandbox server's options, shared by ``python -m kycflow.testing`` and
    ``kycflow sandbox``; ``sandbox_options(args)`` reads them back."""
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080, help="port, 0 for a free one (8080)")
    parser.add_argument("--scenario", metavar="FILE", help="a .json or .toml scenario file")
    parser.add_argument("--seed", type=int, default=0, help="seed of the fault decisions (0)")
    parser.add_argument(
        "--no-throttle", action="store_true", help="do not throttle sign-in attempts"
    )
    parser.add_argument(
        "--token-ttl",
        type=_positive_seconds,
        default=DEFAULT_ACCESS_TOKEN_TTL,
        metavar="SECONDS",
        help=f"lifetime of issued access tokens ({DEFAULT_ACCESS_TOKEN_TTL:g})",
    )


def sandbox_options(args: argparse.Namespace) -> dict[str, Any]:
    """``Sandbox`` keyword arguments from the options of ``add_serve_arguments``."""
    return {"throttle_signin": not args.no_throttle, "access_token_ttl": args.token_ttl}


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be > 0, not {text}")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m kycflow.testing [--host H] [--port P] [--scenario FILE] [--seed N]
    [--no-throttle] [--token-ttl SECONDS]``."""
    parser = argparse.ArgumentParser(prog="python -m kycflow.testing", description=__doc__)
    add_serve_arguments(parser)
    args = parser.parse_args(argv)
    try:
        serve(args.host, args.port, args.scenario, args.seed, **sandbox_options(args))
    except (ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0
