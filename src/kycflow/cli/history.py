"""``kycflow history``: the user's verification history, as a table or JSON."""

from __future__ import annotations

import argparse
import asyncio

from ..models import VerificationPage
from ._arguments import Subparsers, add_common_arguments, positive_int
from ._auth import AuthArgs, add_auth_arguments, authenticate, make_client, resolve_auth
from ._errors import EXIT_OK
from ._output import (
    error_to_dict,
    history_table,
    make_console,
    page_to_dict,
    print_json,
    require_rich,
)

__all__ = ["handle", "register"]

DEFAULT_LIMIT = 20


def register(subparsers: Subparsers) -> None:
    """Add the ``history`` subcommand."""
    parser = subparsers.add_parser(
        "history",
        help="show the verification history",
        description="Show the user's verification history, newest first.",
    )
    add_auth_arguments(parser)
    parser.add_argument(
        "--limit",
        type=positive_int,
        default=DEFAULT_LIMIT,
        metavar="N",
        help=f"show at most N entries (default {DEFAULT_LIMIT})",
    )
    parser.add_argument("--json", action="store_true", help="print the page as JSON")
    add_common_arguments(parser)
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    """Fetch one page of history and print it."""
    try:
        auth = resolve_auth(args)
        if not args.json:
            require_rich()
        page = asyncio.run(_fetch(auth, args.limit))
    except Exception as exc:
        if args.json:
            print_json(error_to_dict(exc))
        raise
    if args.json:
        print_json(page_to_dict(page))
    else:
        make_console().print(history_table(page))
    return EXIT_OK


async def _fetch(auth: AuthArgs, limit: int) -> VerificationPage:
    async with make_client(auth) as client:
        user = await authenticate(client, auth)
        return await user.verifications.list(limit=limit, sort_by="createTime", sort_order="desc")
