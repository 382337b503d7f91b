"""``kycflow run``: drive the wizard to its end with documents from a directory."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from ..wizard.events import WizardEvent
from ..wizard.providers import DirectoryProvider
from ..wizard.runner import WizardResult, WizardRunner
from ._arguments import Subparsers, add_common_arguments
from ._auth import AuthArgs, add_auth_arguments, authenticate, make_client, resolve_auth
from ._documents import DescribingProvider, parse_map
from ._errors import EXIT_NOT_COMPLETED, EXIT_OK, UsageError
from ._output import error_to_dict, make_console, print_json, require_rich, result_to_dict
from ._progress import ProgressView, RunRecorder

__all__ = ["handle", "register"]

_EXAMPLES = """\
examples:
  kycflow run --base-url https://host.name/api --token "$TOKEN" --documents ./docs
  kycflow run --base-url URL --email me@example.com --documents ./docs \\
      --map Passport=scan.jpg --map "ID card=front.jpg,back.jpg" --json
"""


def register(subparsers: Subparsers) -> None:
    """Add the ``run`` subcommand."""
    parser = subparsers.add_parser(
        "run",
        help="run the whole verification wizard with documents from a directory",
        description="Run the verification wizard to its end with files from --documents.",
        epilog=_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_auth_arguments(parser)
    parser.add_argument(
        "--documents",
        required=True,
        metavar="DIR",
        help="directory of documents, matched by name: passport.jpg is 'Passport'",
    )
    parser.add_argument(
        "--map",
        action="append",
        metavar="TYPE=FILE[,FILE...]",
        help="map a type id or description to files relative to DIR (repeatable)",
    )
    parser.add_argument("--json", action="store_true", help="print the result as one JSON document")
    add_common_arguments(parser)
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    """Validate the local input, then run the wizard (progress, or JSON with --json)."""
    known = RunRecorder()
    try:
        root = Path(args.documents)
        if not root.is_dir():
            raise UsageError(f"documents directory not found: {args.documents}")
        mapping = parse_map(args.map, root)
        auth = resolve_auth(args)
        if not args.json:
            require_rich()
        provider = DescribingProvider(DirectoryProvider(root, mapping))
        known.describe = provider.describe_plain
        result = asyncio.run(_run(auth, provider, known, as_json=args.json))
    except (Exception, KeyboardInterrupt) as exc:
        if args.json:
            # Scripts get a JSON document either way (Ctrl-C and SIGTERM included), with what
            # the run had done; the one-line error still goes to stderr.
            print_json(error_to_dict(exc, known.partial()))
        raise
    if args.json:
        print_json(result_to_dict(result))
    if not result.succeeded:
        # A 202 with done: false: the wizard is over, but the verification did not succeed.
        sys.stderr.write(
            "kycflow: error: the wizard ended without success (code 202, done: false; "
            f"workflow {result.workflow or '-'}): the verification was not completed\n"
        )
        return EXIT_NOT_COMPLETED
    return EXIT_OK


async def _run(
    auth: AuthArgs, provider: DescribingProvider, known: RunRecorder, *, as_json: bool
) -> WizardResult:
    async with make_client(auth) as client:
        user = await authenticate(client, auth)
        if as_json:
            return await WizardRunner(user, provider, on_event=known.on_event).run()
        with ProgressView(make_console(), provider.describe) as view:

            def on_event(event: WizardEvent) -> None:
                known.on_event(event)
                view.on_event(event)

            return await WizardRunner(user, provider, on_event=on_event).run()
