"""``kycflow watch``: wait until the user is granted a level; exit 0, or 6 on timeout."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from typing import Any, TextIO

from ..errors import LevelTimeoutError
from ..models import Verification
from ..resources.level_wait import WaitProgress
from ..resources.levels import LevelRef, PollPolicy
from ._arguments import Subparsers, add_common_arguments
from ._auth import AuthArgs, add_auth_arguments, authenticate, make_client, resolve_auth
from ._errors import EXIT_OK, UsageError
from ._output import error_to_dict, print_json
from ._secrets import secrets

__all__ = ["EXIT_TIMEOUT", "handle", "register"]

EXIT_TIMEOUT = 6
"""The level was not granted within ``--timeout`` (distinct from 1, an API error)."""
DEFAULT_TIMEOUT = 3600.0
DEFAULT_INTERVAL = 2.0
DEFAULT_MAX_INTERVAL = 60.0


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError("must be a positive number of seconds")
    return value


def register(subparsers: Subparsers) -> None:
    """Add the ``watch`` subcommand."""
    parser = subparsers.add_parser(
        "watch",
        help="wait until the user is granted a level (after the wizard)",
        description=(
            "Poll the verification history until the level is granted (backing off from "
            "--interval to --max-interval). Exit 0 when granted (also if already granted), "
            f"{EXIT_TIMEOUT} when --timeout passes first, 1 on an API error."
        ),
    )
    add_auth_arguments(parser)
    target = parser.add_mutually_exclusive_group()  # one is needed: handle() says so
    target.add_argument("--level", metavar="NAME", help='the level\'s name, e.g. "Level 1"')
    target.add_argument("--level-id", type=int, metavar="ID", help="the level's id")
    parser.add_argument(
        "--timeout",
        type=_seconds,
        default=DEFAULT_TIMEOUT,
        metavar="S",
        help=f"give up after S seconds (default {DEFAULT_TIMEOUT:g}; exit {EXIT_TIMEOUT})",
    )
    parser.add_argument(
        "--interval",
        type=_seconds,
        default=DEFAULT_INTERVAL,
        metavar="S",
        help=f"first poll interval (default {DEFAULT_INTERVAL:g})",
    )
    parser.add_argument(
        "--max-interval",
        type=_seconds,
        default=DEFAULT_MAX_INTERVAL,
        metavar="S",
        help=f"longest poll interval (default {DEFAULT_MAX_INTERVAL:g})",
    )
    parser.add_argument(
        "--known-levels",
        metavar="A,B",
        help="the deployment's level names: any other --level is refused at once",
    )
    parser.add_argument("--json", action="store_true", help="print the outcome as JSON")
    add_common_arguments(parser)
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    """Wait for the level; print the granting entry (or the timeout)."""
    level: LevelRef = args.level if args.level is not None else args.level_id
    started = time.monotonic()
    try:
        if level is None:
            raise UsageError("say which level to wait for: --level NAME or --level-id ID")
        if args.max_interval < args.interval:
            raise UsageError("--max-interval must be >= --interval")
        auth = resolve_auth(args)
        known = None
        if args.known_levels:
            known = [name.strip() for name in args.known_levels.split(",") if name.strip()]
        policy = PollPolicy(initial=args.interval, maximum=args.max_interval)
        report = None if args.json else _progress_printer(sys.stderr)
        granted = asyncio.run(_wait(auth, level, args.timeout, policy, known, report))
    except LevelTimeoutError as exc:
        if args.json:
            print_json({**error_to_dict(exc), **_timeout_dict(exc), "exit_code": EXIT_TIMEOUT})
        else:
            sys.stderr.write(secrets.scrub(f"kycflow: timeout: {exc}") + "\n")
        return EXIT_TIMEOUT
    except Exception as exc:
        if args.json:
            print_json(error_to_dict(exc))
        raise
    elapsed = time.monotonic() - started
    if args.json:
        print_json(
            {
                "granted": True,
                "level": _level_dict(granted),
                "verification": granted.model_dump(mode="json", by_alias=True),
                "elapsed": round(elapsed, 3),
            }
        )
    else:
        name = granted.current_level.name if granted.current_level else "?"
        when = granted.create_time.isoformat() if granted.create_time else "unknown time"
        sys.stdout.write(f"Granted {name!r} (verification {granted.id}, {when})\n")
    return EXIT_OK


async def _wait(
    auth: AuthArgs,
    level: LevelRef,
    limit: float,
    policy: PollPolicy,
    known: list[str] | None,
    report: Any,
) -> Verification:
    async with make_client(auth) as client:
        user = await authenticate(client, auth)
        return await user.verifications.wait_for_level(
            level, timeout=limit, poll=policy, known_levels=known, on_poll=report
        )


def _progress_printer(stream: TextIO) -> Any:
    def report(progress: WaitProgress) -> None:
        level = progress.current_level.name if progress.current_level else "unknown"
        state = f"failed ({type(progress.error).__name__})" if progress.error else "not yet"
        nxt = f"next poll in {progress.next_delay:.1f} s" if progress.next_delay else "giving up"
        stream.write(
            f"poll {progress.polls} at {progress.elapsed:.0f} s: {state}; current level "
            f"{level}; {nxt}\n"
        )
        stream.flush()

    return report


def _level_dict(entry: Verification) -> dict[str, Any] | None:
    level = entry.current_level
    return None if level is None else {"id": level.id, "name": level.name}


def _timeout_dict(exc: LevelTimeoutError) -> dict[str, Any]:
    last = exc.last_seen if isinstance(exc.last_seen, Verification) else None
    return {
        "granted": False,
        "level": exc.level,
        "timeout": exc.timeout,
        "polls": exc.polls,
        "levels_seen": exc.levels_seen,
        "current_level": _level_dict(last) if last is not None else None,
        "last_error": type(exc.last_error).__name__ if exc.last_error else None,
    }
