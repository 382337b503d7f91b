"""``kycflow sandbox``: serve the sandbox API as a process, with a ready-made user."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from typing import TextIO

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
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080, help="port, 0 for a free one (8080)")
    parser.add_argument("--scenario", metavar="FILE", help="a .json or .toml scenario file")
    parser.add_argument("--seed", type=int, default=0, help="seed of the fault decisions (0)")
    add_common_arguments(parser)
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    """Serve until SIGINT/SIGTERM."""
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve_with_user(args.host, args.port, args.scenario, args.seed))
    return EXIT_OK


async def serve_with_user(
    host: str,
    port: int,
    scenario_file: str | None,
    seed: int,
    *,
    out: TextIO | None = None,
    stop: asyncio.Event | None = None,
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

    await serve_async(host, port, scenario_file, seed, on_ready=announce, stop=stop, announce=False)
