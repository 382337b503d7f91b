"""The ``kycflow`` command: ``demo``, ``run``, ``batch``, ``history``, ``watch`` and ``sandbox``.

Each subcommand is a module with ``register(subparsers)``, which adds its parser and sets
``handler`` (a function of the parsed arguments returning the exit code). Adding a command is
one module plus one entry in ``COMMANDS``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from .._version import __version__
from . import batch, demo, history, run, sandbox, watch
from ._errors import EXIT_USAGE, Interrupted, report_error
from ._logs import configure_cli_logging
from ._secrets import secrets
from ._signals import sigterm_as_interrupt

__all__ = ["COMMANDS", "build_parser", "main"]

COMMANDS = (demo, run, batch, history, watch, sandbox)

_EPILOG = """\
exit codes: 0 done, 1 API or network error (batch: some job failed),
            2 usage or bad local input (nothing was sent),
            3 the wizard needs documents that were not given,
            4 the wizard ended without success, 5 a wizard the API cannot drive,
            6 watch: the level was not granted within --timeout,
            130 interrupted (Ctrl-C), 143 terminated (SIGTERM)
"""


def build_parser() -> argparse.ArgumentParser:
    """The ``kycflow`` argument parser with every subcommand registered."""
    parser = argparse.ArgumentParser(
        prog="kycflow",
        description="Drive a broker platform's KYC verification wizard.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"kycflow {__version__}")
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        default=False,
        help="show detail and tracebacks on errors, and kycflow's log",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for command in COMMANDS:
        command.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``kycflow`` command; returns the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a usage error argparse has printed
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    verbose = bool(args.verbose)
    configure_cli_logging(verbose)
    try:
        with sigterm_as_interrupt():
            code: int = handler(args)
        return code
    except KeyboardInterrupt:
        interrupted = Interrupted()
        sys.stderr.write(f"kycflow: {interrupted}\n")
        return interrupted.exit_code
    except Exception as exc:  # every failure becomes one line and an exit code
        return report_error(exc, verbose=verbose)
    finally:
        secrets.clear()
        sys.stdout.flush()
