"""Shared plumbing of the benchmark scripts: a sandbox child process, its admin API, RSS probes,
medians and plain-text tables.

Run as a script (``python benchmarks/_bench.py serve ...``) it is the sandbox process itself:
``kycflow.testing.serve_async`` with the knobs the benchmarks need (upload limit, no request
log, faults from JSON).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

ASSETS = Path(__file__).resolve().parent.parent / "src" / "kycflow" / "assets"
_LISTENING = "kycflow sandbox listening on "


# ---- CPU pinning ----------------------------------------------------------------------------


def cpu_plan(pin: bool) -> tuple[set[int] | None, set[int] | None, str]:
    """(client cpus, sandbox cpus, note): on 2+ cores, one core each so they do not contend."""
    cpus = sorted(os.sched_getaffinity(0))
    if not pin or len(cpus) < 2:
        return None, None, f"not pinned ({len(cpus)} cpu(s) shared by client and sandbox)"
    return {cpus[0]}, {cpus[1]}, f"client pinned to cpu {cpus[0]}, sandbox to cpu {cpus[1]}"


def pin_self(cpus: set[int] | None) -> None:
    """Restrict this process to ``cpus`` (None: leave it)."""
    if cpus:
        os.sched_setaffinity(0, cpus)


# ---- the sandbox child process ----------------------------------------------------------------


@dataclass
class SandboxProcess:
    """A sandbox served by a child process on 127.0.0.1 (``base_url`` ends in ``/api``)."""

    proc: subprocess.Popen[str] | None
    """None: a sandbox some other process started (its CPU is not read)."""
    base_url: str

    @property
    def root_url(self) -> str:
        """``http://127.0.0.1:PORT`` (the admin API is under ``/_sandbox``)."""
        return self.base_url.removesuffix("/api")

    def cpu_seconds(self) -> float:
        """User+system CPU the sandbox process has used so far."""
        if self.proc is None:
            raise RuntimeError("the sandbox was started elsewhere: its CPU is not known here")
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks = os.sysconf("SC_CLK_TCK")
        return (int(fields[11]) + int(fields[12])) / ticks


@contextlib.contextmanager
def sandbox_process(
    *,
    cpus: set[int] | None = None,
    max_upload_bytes: int | None = None,
    faults: dict[str, Any] | None = None,
    scenario: str | Path | None = None,
) -> Iterator[SandboxProcess]:
    """Start the sandbox in a child process (free port), yield it, stop it (SIGTERM, then kill)."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "serve"]
    if max_upload_bytes is not None:
        cmd += ["--max-upload-bytes", str(max_upload_bytes)]
    if faults is not None:
        cmd += ["--faults", json.dumps(faults)]
    if scenario is not None:
        cmd += ["--scenario", str(scenario)]

    def preexec() -> None:
        if cpus:
            os.sched_setaffinity(0, cpus)

    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, preexec_fn=preexec)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line.startswith(_LISTENING):
            raise RuntimeError(f"the sandbox did not start: {line!r}")
        yield SandboxProcess(proc, line[len(_LISTENING) :].strip())
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class Admin:
    """The sandbox's admin API (``/_sandbox/...``) over one aiohttp session."""

    def __init__(self, sandbox: SandboxProcess) -> None:
        self._root = sandbox.root_url + "/_sandbox"
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Admin:
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=300))
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._session is not None:
            await self._session.close()

    async def _call(self, method: str, path: str, body: Any = None) -> Any:
        assert self._session is not None
        async with self._session.request(method, self._root + path, json=body) as resp:
            resp.raise_for_status()
            return await resp.json()

    async def create_tokens(self, count: int, batch: int = 2000) -> list[str]:
        """``count`` fresh users at the initial level; their access tokens."""
        tokens: list[str] = []
        while len(tokens) < count:
            n = min(batch, count - len(tokens))
            reply = await self._call("POST", "/users", {"count": n})
            tokens += [u["access_token"] for u in reply["users"]]
        return tokens

    async def records(self) -> dict[str, Any]:
        """``GET /_sandbox/records`` (counts, submissions, uploads, duplicates, problems)."""
        result: dict[str, Any] = await self._call("GET", "/records")
        return result

    async def reset(self) -> None:
        """Forget users and records."""
        await self._call("POST", "/reset")

    async def set_faults(self, faults: dict[str, Any]) -> None:
        """Replace the fault configuration."""
        await self._call("POST", "/faults", faults)


# ---- measurements -----------------------------------------------------------------------------


def proc_status(pid: int | str = "self") -> dict[str, int]:
    """VmRSS / VmHWM / VmSize of a process, in KiB."""
    out: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM", "VmSize"):
            out[key] = int(value.split()[0])
    return out


def cpu_seconds_self() -> float:
    """User+system CPU of this process."""
    t = os.times()
    return t.user + t.system


def median(values: Sequence[float]) -> float:
    """The median (0 for no values)."""
    return statistics.median(values) if values else 0.0


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A Markdown table (also readable as plain text)."""
    cells = [[str(h) for h in headers], *[[_fmt(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]

    def line(row: Sequence[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |"

    separator = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(cells[0]), separator, *(line(row) for row in cells[1:])])


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:,.3f}" if abs(value) < 10 else f"{value:,.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def machine_note() -> str:
    """One line about the machine the figures come from."""
    import platform

    import kycflow

    cpus = len(os.sched_getaffinity(0))
    try:
        model = next(
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        )
    except (OSError, StopIteration):
        model = platform.processor() or "unknown cpu"
    return (
        f"{cpus} cpu(s) ({model}), Python {platform.python_version()}, aiohttp "
        f"{aiohttp.__version__}, kycflow {kycflow.__version__}, {time.strftime('%Y-%m-%d')}"
    )


# ---- the sandbox process entry point ----------------------------------------------------------


def carries_document_types(step: Any) -> bool:
    """Whether a raw wizard envelope names the next page's Document Type objects. The sandbox's
    default reading (the reference's) answers a submit with an echo of the submitted types, and
    a raw flow then reads the next page with ``GET /v2/my/verifications/wizard``, as the runner
    does."""
    data = step.get("data")
    types = data.get("types") if isinstance(data, dict) else None
    return isinstance(types, list) and any(isinstance(t, dict) for t in types)


def _serve(argv: Sequence[str]) -> None:
    from kycflow.testing import Faults
    from kycflow.testing.serve import serve

    parser = argparse.ArgumentParser(prog="_bench.py serve")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--max-upload-bytes", type=int, default=25 * 1024 * 1024)
    parser.add_argument("--faults", default=None, help="Faults.from_dict JSON")
    parser.add_argument("--scenario", default=None, help="a scenario file (JSON or TOML)")
    args = parser.parse_args(argv)
    faults = Faults.from_dict(json.loads(args.faults)) if args.faults else Faults()
    serve(
        "127.0.0.1",
        args.port,
        args.scenario,
        faults=faults,
        max_upload_bytes=args.max_upload_bytes,
        keep_requests=False,  # counts only: a request log would grow with every benchmark flow
        throttle_signin=False,
    )


if __name__ == "__main__":
    if sys.argv[1:2] == ["serve"]:
        _serve(sys.argv[2:])
    else:
        sys.exit("usage: python benchmarks/_bench.py serve [--port P] [--max-upload-bytes N]")
