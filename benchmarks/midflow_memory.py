"""Memory per run in flight, measured mid-flow: N runs over the default pool (100 connections)
against a sandbox answering every request after 20 ms.

With N far above the pool, every run spends most of its life waiting for a connection while it
holds its state after step 1 (its documents found, its first files uploaded and submitted).
The figure is taken once every run has finished step 1 (each has asked its provider for step
2's document) and none has finished: RSS then, minus the RSS before the runs (the users' tokens
already loaded), divided by N. Each mode runs in its own fresh client process (RSS is never
given back in between), rounds interleaved; the sandbox is one more process.

Modes: ``kycflow directory`` (``DirectoryProvider`` over files on disk, the default settings),
``kycflow memory`` (``MemoryProvider``) and ``raw aiohttp`` (the same flow written by hand,
documents from memory: it holds only what such a user's code holds). Also measured: the
document file descriptors open at once (sampled every 10 ms; bounded by the upload
concurrency, none held across a submit) and sockets.

    python benchmarks/midflow_memory.py                    # 10,000 runs, 3 rounds
    python benchmarks/midflow_memory.py --runs 2000 --rounds 1

Target: kycflow <= 12 KiB per run mid-flow at 10,000 runs.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _bench
import aiohttp
from throughput import SAMPLES, FlowError, write_documents

import kycflow

MODES = ("kycflow directory", "kycflow memory", "raw aiohttp")
STEP_2_TYPE = 3  # the default scenario's step 2 (Selfie): asked once a run's step 1 is done
TARGET_KIB = 12.0


class Progress:
    """Runs past step 1, runs finished, failures; the barrier after step 1."""

    def __init__(self) -> None:
        self.reset(0)

    def reset(self, goal: int) -> None:
        """Start counting ``goal`` runs afresh."""
        self.past_step_1 = 0
        self.done = 0
        self.failed: list[str] = []
        self.goal = goal
        self.parked = asyncio.Event()  # every run has finished step 1
        self.release = asyncio.Event()
        self.tenth_done = asyncio.Event()

    def finished(self) -> None:
        """One run ended (done or failed)."""
        if self.done + len(self.failed) >= max(1, self.goal // 10):
            self.tenth_done.set()

    async def step_1_done(self) -> None:
        """Park the run until every run has finished step 1 and the parent lets them go."""
        self.past_step_1 += 1
        if self.past_step_1 >= self.goal:
            self.parked.set()
        await self.release.wait()


def counting(provider: kycflow.FileProvider, progress: Progress) -> kycflow.FileProvider:
    """``provider``, parking each run when it asks for step 2's document (step 1 is done)."""

    class Counting:
        async def documents_for(
            self, doc_type: kycflow.DocumentType
        ) -> list[kycflow.Document] | None:
            if doc_type.id == STEP_2_TYPE:
                await progress.step_1_done()
            found = await provider.documents_for(doc_type)
            return None if found is None else list(found)

    return Counting()


def document_fds(root: str) -> tuple[int, int]:
    """(open descriptors of files under ``root``, open sockets) of this process."""
    files = sockets = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith(root):
            files += 1
        elif target.startswith("socket:"):
            sockets += 1
    return files, sockets


async def sampler(stop: asyncio.Event, root: str, peaks: dict[str, int]) -> None:
    """Highest RSS and descriptor counts seen, every 10 ms."""
    while not stop.is_set():
        files, sockets = document_fds(root)
        peaks["files"] = max(peaks["files"], files)
        peaks["sockets"] = max(peaks["sockets"], sockets)
        peaks["rss"] = max(peaks["rss"], _bench.proc_status()["VmRSS"])
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.01)


def raw_flow(session: aiohttp.ClientSession, base_url: str, progress: Progress) -> Any:
    """The flow by hand with aiohttp, documents from memory."""
    wizard_url = base_url + "/v2/my/verifications/wizard"
    submit_url = base_url + "/v2/my/verifications"
    upload_url = base_url + "/v2/my/files"

    async def flow(token: str) -> None:
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        async with session.get(wizard_url, headers=headers) as resp:
            step: Any = await resp.json()
        number = 0
        while step["code"] == 200:
            number += 1
            if number == 2:
                await progress.step_1_done()
            type_id = next(
                t["id"] for t in step["data"]["types"] if t["enabled"] and t["id"] in SAMPLES
            )
            name, content_type, data = SAMPLES[type_id]
            form = aiohttp.FormData()
            form.add_field("file", data, filename=name, content_type=content_type)
            async with session.post(upload_url, data=form, headers=headers) as resp:
                stored = (await resp.json())["data"]["file"]
            body = {
                "data": {"documents": {"type": type_id, "files": [stored]}, "uuid": step["uuid"]}
            }
            async with session.post(submit_url, json=body, headers=headers) as resp:
                step = await resp.json()
            if step["code"] == 200 and not _bench.carries_document_types(step):
                async with session.get(wizard_url, headers=headers) as resp:
                    step = await resp.json()
        if step["code"] != 202:
            raise FlowError(f"unexpected final code {step['code']}")

    return flow


async def client_main(args: argparse.Namespace) -> dict[str, Any]:
    """One mode in this (fresh) process; its figures as a dict."""
    sandbox = _bench.SandboxProcess(proc=None, base_url=args.base_url)
    root = args.documents
    progress = Progress()
    async with (
        _bench.Admin(sandbox) as admin,
        kycflow.Client(args.base_url, timeout=300) as client,
        aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=100), timeout=aiohttp.ClientTimeout(total=300)
        ) as session,
    ):
        if args.mode == "raw aiohttp":
            flow = raw_flow(session, args.base_url, progress)
        else:
            inner: kycflow.FileProvider = (
                kycflow.DirectoryProvider(root)
                if args.mode == "kycflow directory"
                else kycflow.MemoryProvider({t: (n, d) for t, (n, _, d) in SAMPLES.items()})
            )
            provider = counting(inner, progress)

            async def flow(token: str) -> None:
                auth = client.with_auth(kycflow.BearerToken(token))
                result = await kycflow.WizardRunner(auth, provider).run()
                if not result.done:
                    raise FlowError("the run ended before the final step")

        async def one(token: str) -> None:
            try:
                await flow(token)
                progress.done += 1
            except Exception as exc:
                progress.failed.append(f"{type(exc).__name__}: {exc}"[:120])
            finally:
                progress.finished()

        warm = await admin.create_tokens(200)  # pools, caches, imports
        progress.reset(len(warm))
        progress.release.set()
        await asyncio.gather(*(one(t) for t in warm))
        tokens = await admin.create_tokens(args.runs)
        progress.reset(args.runs)
        gc.collect()
        base_rss = _bench.proc_status()["VmRSS"]
        base_files, _ = document_fds(root)
        peaks = {"rss": base_rss, "files": 0, "sockets": 0}
        stop = asyncio.Event()
        sampling = asyncio.create_task(sampler(stop, root, peaks))
        started = time.perf_counter()
        tasks = [asyncio.create_task(one(t)) for t in tokens]
        await progress.parked.wait()
        parked_rss = _bench.proc_status()["VmRSS"]
        parked_files, _ = document_fds(root)
        peaks["rss"] = parked_rss
        progress.release.set()  # all of them now queue for a connection for step 2's upload
        await progress.tenth_done.wait()  # the peak is while all of them are queued
        queued_rss = max(peaks["rss"], _bench.proc_status()["VmRSS"])
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - started
        stop.set()
        await sampling
    return {
        "mode": args.mode,
        "runs": args.runs,
        "kib_per_run": (queued_rss - base_rss) / args.runs,
        "parked_kib_per_run": (parked_rss - base_rss) / args.runs,
        "base_rss_mib": base_rss / 1024,
        "files_parked": parked_files - base_files,
        "max_files": peaks["files"] - base_files,
        "max_sockets": peaks["sockets"],
        "done": progress.done,
        "failed": len(progress.failed),
        "first_failure": progress.failed[0] if progress.failed else "-",
        "seconds": elapsed,
    }


def _median_cell(key: str, values: list[Any]) -> object:
    # Counts stay counts; KiB keep their decimals.
    value = _bench.median(values)
    return value if key.endswith("kib_per_run") else int(value)


def run_client(mode: str, base_url: str, documents: str, args: argparse.Namespace) -> Any:
    cmd = [sys.executable, __file__, "client", "--mode", mode, "--base-url", base_url]
    cmd += ["--documents", documents, "--runs", str(args.runs)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise SystemExit(f"{mode} failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.splitlines()[-1])


def main_parent(args: argparse.Namespace) -> None:
    print(f"machine: {_bench.machine_note()}")
    print(f"{args.rounds} round(s) x {args.runs} runs per mode, default pool (100 connections), ")
    print(f"every request answered after {args.delay * 1000:.0f} ms\n")
    slow = {
        "slow_delay": args.delay,
        "rates": {r: {"slow": 1.0} for r in ("wizard", "upload", "submit")},
    }
    results: dict[str, list[dict[str, Any]]] = {mode: [] for mode in args.modes}
    with (
        tempfile.TemporaryDirectory(prefix="kycflow-midflow-") as tmp,
        _bench.sandbox_process(faults=slow) as sandbox,
    ):
        root = str(write_documents(Path(tmp)))
        names = list(args.modes)
        for number in range(args.rounds):
            shift = number % len(names)
            for mode in names[shift:] + names[:shift]:
                stats = run_client(mode, sandbox.base_url, root, args)
                results[mode].append(stats)
                print(
                    f"round {number + 1} {mode}: {stats['kib_per_run']:.2f} KiB/run mid-flow, "
                    f"max document fds {stats['max_files']}, {stats['seconds']:.1f} s",
                    flush=True,
                )
    keys = (
        "kib_per_run",
        "parked_kib_per_run",
        "files_parked",
        "max_files",
        "max_sockets",
        "done",
        "failed",
    )
    rows = [
        (mode, *(_median_cell(k, [r[k] for r in runs]) for k in keys))
        for mode, runs in results.items()
    ]
    headers = [
        "mode",
        "KiB/run mid-flow (queued for step 2)",
        "KiB/run parked after step 1",
        "doc fds parked",
        "max doc fds",
        "max sockets",
        "runs done",
        "failed",
    ]
    print("\n" + _bench.table(headers, rows) + "\n")
    raw = results.get("raw aiohttp")
    for mode in ("kycflow directory", "kycflow memory"):
        if mode not in results:
            continue
        kib = _bench.median([r["kib_per_run"] for r in results[mode]])
        line = f"{mode}: {kib:.2f} KiB per run mid-flow; target <= {TARGET_KIB:.0f}: "
        line += "met" if kib <= TARGET_KIB else "NOT met"
        if raw:
            raw_kib = _bench.median([r["kib_per_run"] for r in raw])
            line += f"; {kib / raw_kib:.2f}x raw aiohttp ({raw_kib:.2f} KiB)"
        print(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("role", nargs="?", default="parent", choices=("parent", "client"))
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--delay", type=float, default=0.02, help="seconds before every reply")
    parser.add_argument("--modes", nargs="+", choices=MODES, default=list(MODES))
    parser.add_argument("--mode", choices=MODES, help=argparse.SUPPRESS)
    parser.add_argument("--base-url", help=argparse.SUPPRESS)
    parser.add_argument("--documents", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.role == "client":
        print(json.dumps(asyncio.run(client_main(args))))
    else:
        main_parent(args)


if __name__ == "__main__":
    main()
