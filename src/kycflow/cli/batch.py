"""``kycflow batch``: run many users' verifications from a JSONL file of jobs."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from ..batch import DEFAULT_BATCH_CONCURRENCY, BatchJob, BatchProgress, BatchResult, run_many
from ..client import Client
from ..errors import ConfigurationError
from ._arguments import Subparsers, add_common_arguments, positive_int
from ._auth import ENV_BASE_URL
from ._errors import EXIT_API, EXIT_OK, UsageError
from ._output import make_console
from ._secrets import secrets

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

__all__ = ["handle", "load_jobs", "register"]

_EXAMPLES = """\
jobs file: one JSON object per line, e.g.
  {"key": "alice", "token_env": "ALICE_TOKEN", "documents": "users/alice"}
  {"key": "bob", "token": "...", "documents": "users/bob", "map": {"Passport": "scan.jpg"}}
'documents' is relative to the jobs file's directory; 'map' maps type ids or descriptions
to files in it. Results: one JSON object per line (key, status, uuid, steps, error), in the
order jobs finish; never a token.

exit codes: 0 every job complete, 1 some job failed, 2 bad input (nothing was run)

examples:
  kycflow batch jobs.jsonl --base-url https://host.name/api --concurrency 200 \\
      --output results.jsonl
"""


def register(subparsers: Subparsers) -> None:
    """Add the ``batch`` subcommand."""
    parser = subparsers.add_parser(
        "batch",
        help="run many verifications from a JSONL file of jobs",
        description="Run every job of a JSONL file, many at once, over one connection pool.",
        epilog=_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("jobs", metavar="JOBS.jsonl", help="the jobs, one JSON object per line")
    parser.add_argument(
        "--base-url",
        default=os.environ.get(ENV_BASE_URL),
        help=f"the API's base URL, e.g. https://host.name/api (env {ENV_BASE_URL})",
    )
    parser.add_argument(
        "--concurrency",
        type=positive_int,
        default=DEFAULT_BATCH_CONCURRENCY,
        help=f"verifications in flight at once (default {DEFAULT_BATCH_CONCURRENCY})",
    )
    parser.add_argument(
        "--output",
        "-o",
        metavar="FILE",
        help="write the results JSONL here (default: standard output)",
    )
    parser.add_argument(
        "--retries",
        type=_retries,
        default=None,
        help="retries of a failed request (default: the client's)",
    )
    parser.add_argument(
        "--no-progress", action="store_true", help="do not draw the progress bar on stderr"
    )
    add_common_arguments(parser)
    parser.set_defaults(handler=handle)


def _retries(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be an integer >= 0, not {text!r}")
    return value


def load_jobs(path: Path) -> list[BatchJob]:
    """Every job of the JSONL file, checked; ``UsageError`` naming the line otherwise."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read the jobs file {path}: {exc}") from None
    jobs: list[BatchJob] = []
    keys: set[str] = set()
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            spec: Any = json.loads(line)
        except ValueError:
            raise UsageError(f"{path.name} line {number}: not valid JSON") from None
        if isinstance(spec, dict) and isinstance(spec.get("token"), str):
            secrets.add(spec["token"])
        try:
            job = BatchJob.from_dict(spec, base_dir=path.parent)
        except ConfigurationError as exc:
            raise UsageError(f"{path.name} line {number}: {exc}") from None
        if job.key in keys:
            raise UsageError(f"{path.name} line {number}: key {job.key!r} is repeated")
        keys.add(job.key)
        token = getattr(job.auth, "token", None)
        if token is not None:
            secrets.add(token)
        jobs.append(job)
    if not jobs:
        raise UsageError(f"{path.name} holds no jobs")
    return jobs


def handle(args: argparse.Namespace) -> int:
    """Check every job first (exit 2 on bad input), then run them all."""
    if not args.base_url:
        raise UsageError(f"--base-url is required (or set {ENV_BASE_URL})")
    jobs = load_jobs(Path(args.jobs))
    show_progress = not args.no_progress
    with _output(args.output) as out:
        results = asyncio.run(
            _run(
                jobs,
                base_url=args.base_url,
                retries=args.retries,
                concurrency=args.concurrency,
                out=out,
                show_progress=show_progress,
            )
        )
    failed = sum(not r.ok for r in results)
    sys.stderr.write(f"kycflow batch: {len(results) - failed} complete, {failed} failed\n")
    return EXIT_OK if failed == 0 else EXIT_API


@contextmanager
def _output(target: str | None) -> Iterator[TextIO]:
    if target is None or target == "-":
        yield sys.stdout
        return
    try:
        handle = open(target, "w", encoding="utf-8")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise UsageError(f"cannot write the output file {target}: {exc.strerror}") from None
    try:
        yield handle
    finally:
        handle.close()


async def _run(
    jobs: list[BatchJob],
    *,
    base_url: str,
    retries: int | None,
    concurrency: int,
    out: TextIO,
    show_progress: bool,
) -> list[BatchResult]:
    client = Client(base_url) if retries is None else Client(base_url, max_retries=retries)

    def write(result: BatchResult) -> None:
        out.write(secrets.scrub(json.dumps(result.to_dict())) + "\n")
        out.flush()

    async with client:
        with _progress(show_progress, len(jobs)) as on_progress:
            return await run_many(
                jobs,
                client=client,
                concurrency=concurrency,
                on_result=write,
                on_progress=on_progress,
            )


@contextmanager
def _progress(enabled: bool, total: int) -> Iterator[Any]:
    """A rich progress bar on stderr; yields the ``on_progress`` callback (or None)."""
    if not enabled:
        yield None
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    progress: Progress = Progress(
        TextColumn("[bold]verifications"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("[red]{task.fields[failed]} failed"),
        TimeElapsedColumn(),
        console=make_console(sys.stderr),
        transient=False,
    )
    task: TaskID = progress.add_task("batch", total=total, failed=0)

    def on_progress(update: BatchProgress) -> None:
        progress.update(task, completed=update.finished, failed=update.failed)

    with progress:
        yield on_progress
