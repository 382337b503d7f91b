"""The ``kycflow`` command: ``demo``, ``run``, ``batch``, ``history``, ``watch`` and ``sandbox``.

Each subcommand is a module with ``register(subparsers)``, which adds its parser and sets
``handler`` (a function of the parsed arguments returning the exit code). Adding a command is
one module plus one line in ``COMMANDS``. A command's module (and what it needs: the client,
the sandbox, rich) is imported only when that command runs: ``kycflow --help`` lists every
command from ``COMMANDS`` alone.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence
from types import ModuleType

from .._version import __version__

__all__ = ["COMMANDS", "build_parser", "command_module", "main"]

# Command name -> (its one-line help, the module that registers and runs it).
COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("verify a sandbox user with the sample documents (no network, no setup)", ".demo"),
    "run": ("run the whole verification wizard with documents from a directory", ".run"),
    "batch": ("run many verifications from a JSONL file of jobs", ".batch"),
    "history": ("show the verification history", ".history"),
    "watch": ("wait until the user is granted a level (after the wizard)", ".watch"),
    "sandbox": ("serve the sandbox API locally (until Ctrl-C)", ".sandbox"),
}

_EPILOG = """\
exit codes: 0 done, 1 API or network error (batch: some job failed),
            2 usage or bad local input (nothing was sent),
            3 the wizard needs documents that were not given,
            4 the wizard ended without success, 5 a wizard the API cannot drive,
            6 watch: the level was not granted within --timeout,
            130 interrupted (Ctrl-C), 143 terminated (SIGTERM)
"""
_EXIT_USAGE = 2  # ``_errors.EXIT_USAGE``, without importing the error tree for ``--help``


def command_module(name: str) -> ModuleType:
    """The module of the command ``name`` (imported now)."""
    return importlib.import_module(COMMANDS[name][1], __name__)


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The ``kycflow`` argument parser. Every command is registered in full, or, with
    ``only``, that command alone and the others by name and help (nothing imported for them)."""
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
    for name, (help_text, _) in COMMANDS.items():
        if only is None or name == only:
            command_module(name).register(subparsers)
        else:
            subparsers.add_parser(name, help=help_text, add_help=False)
    return parser


def _command_in(argv: Sequence[str]) -> str:
    # The first argument that is not an option names the command (the top-level options take
    # no value). "" when there is none, or it is not a command: argparse reports it.
    for arg in argv:
        if not arg.startswith("-"):
            return arg if arg in COMMANDS else ""
    return ""


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``kycflow`` command; returns the exit code."""
    args_in = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(only=_command_in(args_in))
    try:
        args = parser.parse_args(args_in)
    except SystemExit as exc:  # --help, --version, or a usage error argparse has printed
        return exc.code if isinstance(exc.code, int) else _EXIT_USAGE
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help(sys.stderr)
        return _EXIT_USAGE
    return _run(handler, args)


def _run(handler: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> int:
    from ._errors import Interrupted, report_error
    from ._logs import configure_cli_logging
    from ._secrets import secrets
    from ._signals import sigterm_as_interrupt

    verbose = bool(args.verbose)
    configure_cli_logging(verbose)
    try:
        with sigterm_as_interrupt():
            code = handler(args)
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
