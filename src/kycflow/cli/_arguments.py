"""Argument helpers every subcommand shares: ``--verbose`` and integer argument types."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

__all__ = ["Subparsers", "add_common_arguments", "non_negative_int", "positive_int"]

if TYPE_CHECKING:
    Subparsers = argparse._SubParsersAction[argparse.ArgumentParser]
else:
    Subparsers = argparse._SubParsersAction


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    """``--verbose`` on a subcommand too (SUPPRESS: it never resets the global flag)."""
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        default=argparse.SUPPRESS,
        help="show detail and tracebacks on errors, and kycflow's log",
    )


def non_negative_int(text: str) -> int:
    """argparse type: an int >= 0."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError("must be >= 0")
    return value


def positive_int(text: str) -> int:
    """argparse type: an int >= 1."""
    value = non_negative_int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be >= 1")
    return value
