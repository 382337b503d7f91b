"""``kycflow batch``: run many users' verifications from a JSONL file of jobs."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from .._schema import job_result_dict
from ..batch import DEFAULT_BATCH_CONCURRENCY, BatchJob, BatchProgress, BatchResult, run_many
from ..client import Client
from ..errors import ConfigurationError
from ..wizard.providers import DirectoryProvider
from ._arguments import (
    Subparsers,
    add_common_arguments,
    add_server_arguments,
    check_base_url,
    positive_int,
)
from ._errors import EXIT_API, EXIT_OK, UsageError
from ._output import make_console, require_rich
from ._secrets import secrets

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

__all__ = ["format_eta", "format_rate", "handle", "load_jobs", "register"]

_EXAMPLES = """\
jobs file: one JSON object per line, e.g.
  {"key": "alice", "token_env": "ALICE_TOKEN", "documents": "users/alice"}
  {"key": "bob", "token": "...", "documents": "users/bob", "map": {"Passport": "scan.jpg"}}
'documents' is relative to the jobs file's directory; 'map' maps type ids or descriptions
to files in it. Results: one JSON object per line (kind "job_result": key, status, uuid,
steps, error; see docs/cli.md), in the order jobs finish; never a token. On Ctrl-C or
SIGTERM every job not finished gets a line with status "interrupted".

exit codes: 0 every job complete, 1 some job failed, 2 bad input (nothing was run),
            130 interrupted (Ctrl-C), 143 terminated (SIGTERM)

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
    add_server_arguments(parser)
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
        "--no-progress",
        action="store_true",
        help="do not draw the progress bar on stderr (needs no rich)",
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
        _check_documents(job, spec.get("map"), f"{path.name} line {number}")
        token = getattr(job.auth, "token", None)
        if token is not None:
            secrets.add(token)
        jobs.append(job)
    if not jobs:
        raise UsageError(f"{path.name} holds no jobs")
    return jobs


def _check_documents(job: BatchJob, mapping: Any, where: str) -> None:
    """The job's documents directory, and every file its ``map`` names, exist: checked before
    anything is sent, like ``kycflow run --documents``."""
    provider = job.provider
    if not isinstance(provider, DirectoryProvider):
        return
    if not provider.root.is_dir():
        raise UsageError(f"{where}: documents directory not found: {provider.root}")
    for files in (mapping or {}).values():
        for name in [files] if isinstance(files, str) else files:
            if not (provider.root / name).is_file():
                raise UsageError(f"{where}: 'map' names a missing file: {provider.root / name}")


def handle(args: argparse.Namespace) -> int:
    """Check every job first (exit 2 on bad input), then run them all."""
    base_url = check_base_url(args.base_url, allow_insecure_http=args.allow_insecure_http)
    jobs = load_jobs(Path(args.jobs))
    show_progress = not args.no_progress
    if show_progress:
        require_rich("the progress bar", alternative="--no-progress")
    finished: dict[str, BatchResult] = {}
    with _output(args.output) as out:
        try:
            asyncio.run(
                _run(
                    jobs,
                    base_url=base_url,
                    client_options=_client_options(args),
                    concurrency=args.concurrency,
                    write=_writer(out, finished),
                    show_progress=show_progress,
                )
            )
        except KeyboardInterrupt:
            _write_interrupted(out, jobs, finished)
            _summary(finished, len(jobs))
            raise
    _summary(finished, len(jobs))
    return EXIT_OK if all(r.ok for r in finished.values()) else EXIT_API


def _client_options(args: argparse.Namespace) -> dict[str, Any]:
    options: dict[str, Any] = {"allow_insecure_http": args.allow_insecure_http}
    if args.retries is not None:
        options["max_retries"] = args.retries
    return options


def _writer(out: TextIO, finished: dict[str, BatchResult]) -> Callable[[BatchResult], None]:
    def write(result: BatchResult) -> None:
        finished[result.key] = result
        out.write(secrets.scrub(json.dumps(result.to_dict())) + "\n")
        out.flush()

    return write


def _write_interrupted(out: TextIO, jobs: list[BatchJob], finished: dict[str, BatchResult]) -> None:
    """A line for every job that did not finish (cancelled in flight, or never started)."""
    for index, job in enumerate(jobs):
        if job.key not in finished:
            line = job_result_dict(job.key, None, None, index=index, status="interrupted")
            out.write(json.dumps(line) + "\n")
    out.flush()


def _summary(finished: dict[str, BatchResult], total: int) -> None:
    failed = sum(not r.ok for r in finished.values())
    text = f"kycflow batch: {len(finished) - failed} complete, {failed} failed"
    if len(finished) < total:
        text += f", {total - len(finished)} interrupted"
    sys.stderr.write(text + "\n")


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
    client_options: dict[str, Any],
    concurrency: int,
    write: Callable[[BatchResult], None],
    show_progress: bool,
) -> list[BatchResult]:
    async with Client(base_url, **client_options) as client:
        with _progress(show_progress, len(jobs)) as on_progress:
            return await run_many(
                jobs,
                client=client,
                concurrency=concurrency,
                on_result=write,
                on_progress=on_progress,
            )


def format_rate(rate: float | None) -> str:
    """``"12.5/s"`` (``"-/s"`` before the first job ends); ``"3.0/min"`` below one a second."""
    if rate is None:
        return "-/s"
    return f"{rate:.1f}/s" if rate >= 1 else f"{rate * 60:.1f}/min"


def format_eta(eta: float | None) -> str:
    """``"0:01:05"``, or ``"-"`` while unknown."""
    if eta is None:
        return "-"
    seconds = round(eta)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


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
        TextColumn("{task.fields[rate]}  ETA {task.fields[eta]}"),
        console=make_console(sys.stderr),
        transient=False,
    )
    task: TaskID = progress.add_task("batch", total=total, failed=0, rate="-/s", eta="-")

    def on_progress(update: BatchProgress) -> None:
        progress.update(
            task,
            completed=update.finished,
            failed=update.failed,
            rate=format_rate(update.rate),
            eta=format_eta(update.eta),
        )

    with progress:
        yield on_progress
