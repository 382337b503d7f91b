"""``kycflow sandbox``: serve the sandbox API as a process, with a ready-made user."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from typing import Any, TextIO

from ._arguments import Subparsers, add_common_arguments
from ._errors import EXIT_OK

__all__ = ["handle", "register"]


def register(subparsers: Subparsers) -> None:
    """Add the ``sandbox`` subcommand."""
    parser = subparsers.add_parser(
        "sandbox",
        help="serve the sandbox API locally (until Ctrl-C)",
        description="Serve kycflow's sandbox of the verification API and create a user.",
    )
    from ..testing.serve import add_serve_arguments

    add_serve_arguments(parser)  # the very options of ``python -m kycflow.testing``
    add_common_arguments(parser)
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    """Serve until SIGINT/SIGTERM."""
    from ..testing.serve import sandbox_options

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(
            serve_with_user(args.host, args.port, args.scenario, args.seed, **sandbox_options(args))
        )
    return EXIT_OK


async def serve_with_user(
    host: str,
    port: int,
    scenario_file: str | None,
    seed: int,
    *,
    out: TextIO | None = None,
    stop: asyncio.Event | None = None,
    **sandbox_kwargs: Any,
) -> None:
    """``kycflow.testing.serve_async`` plus a ready-made user whose credentials are printed."""
    from ..testing import Sandbox, serve_async

    stream = out or sys.stdout

    def announce(sandbox: Sandbox) -> None:
        user = sandbox.create_user("demo@sandbox.test", "demo-password")
        # The first line is parseable: a parent process reads the URL (and port) from it.
        print(f"kycflow sandbox listening on {sandbox.base_url}", file=stream)
        print(f"  user:     {user.email}", file=stream)
        print(f"  password: {user.password}", file=stream)
        print(f"  token:    {user.access_token}", file=stream)
        print(
            f"try: kycflow history --base-url {sandbox.base_url} --token {user.access_token}",
            file=stream,
        )
        print("Press Ctrl-C to stop.", file=stream, flush=True)

    await serve_async(
        host,
        port,
        scenario_file,
        seed,
        on_ready=announce,
        stop=stop,
        announce=False,
        **sandbox_kwargs,
    )
