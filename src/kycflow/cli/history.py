"""``kycflow history``: the user's verification history, as a table or JSON."""

from __future__ import annotations

import argparse
import asyncio

from ..client import Client
from ..models import Verification, VerificationPage
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
# The reference caps no page size, but servers do (the sandbox at 1000): larger --limit values
# are fetched as several pages of this size.
PAGE_SIZE = 100


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
        help=f"show at most N entries, newest first (default {DEFAULT_LIMIT}; any N >= 1: "
        f"fetched {PAGE_SIZE} a page)",
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
    except (Exception, KeyboardInterrupt) as exc:
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
        return await fetch_newest(user, limit)


async def fetch_newest(client: Client, limit: int) -> VerificationPage:
    """The ``limit`` newest entries, in pages of at most ``PAGE_SIZE``; ``total`` as the server
    counts it."""
    data: list[Verification] = []
    total = 0
    while len(data) < limit:
        page = await client.verifications.list(
            limit=min(PAGE_SIZE, limit - len(data)),
            offset=len(data),
            sort_by="createTime",
            sort_order="desc",
        )
        total = page.total
        data.extend(page.data)
        if not page.data or len(data) >= total:
            break
    return VerificationPage(total=total, data=data[:limit])
