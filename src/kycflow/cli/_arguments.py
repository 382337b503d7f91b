"""Argument helpers the subcommands share: ``--verbose``, the server flags, number types."""

from __future__ import annotations

import argparse
import os
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from .._http.wire import is_loopback_host
from ._errors import UsageError

__all__ = [
    "ENV_BASE_URL",
    "Subparsers",
    "add_common_arguments",
    "add_server_arguments",
    "check_base_url",
    "non_negative_int",
    "positive_float",
    "positive_int",
]

ENV_BASE_URL = "KYCFLOW_BASE_URL"

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
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, not {value}")
    return value


def positive_float(text: str) -> float:
    """argparse type: a finite number > 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be > 0, not {text}")
    return value


def add_server_arguments(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """``--base-url`` (default ``$KYCFLOW_BASE_URL``) and ``--allow-insecure-http``."""
    parser.add_argument(
        "--base-url",
        default=os.environ.get(ENV_BASE_URL),
        help=f"the API's base URL, e.g. https://host.name/api (env {ENV_BASE_URL})",
    )
    parser.add_argument(
        "--allow-insecure-http",
        action="store_true",
        help="allow a plain http:// base URL to a host that is not loopback (TLS off: tokens "
        "and documents travel in clear)",
    )


def check_base_url(base_url: str | None, *, allow_insecure_http: bool) -> str:
    """The base URL, or ``UsageError`` when missing or plain http to a remote host."""
    if not base_url:
        raise UsageError(f"--base-url is required (or set {ENV_BASE_URL})")
    parts = urlsplit(base_url)
    if parts.scheme == "http" and not allow_insecure_http and not is_loopback_host(parts.hostname):
        raise UsageError(
            f"refusing plain http to {parts.hostname}: use https, or pass --allow-insecure-http"
        )
    return base_url
