"""Instructions per complete flow, counted by valgrind: a noise-free comparison of trees and modes.

Client CPU time on a shared machine moves by 10-20% between runs of the same code, which hides
differences of a few percent (``throughput.py`` needs many alternated runs). Instruction counts
hardly move with the machine's load: each mode's client runs under ``valgrind --tool=cachegrind
--cache-sim=no`` (the sandbox natively, in its own process), once with ``--small`` flows and once
with ``--large`` flows after the same warm-up, both at concurrency 100 over a pool the warm-up
filled, with the same number of tokens created, ``PYTHONHASHSEED=0``; the difference, divided by
the extra flows, is what one flow costs, start-up and warm-up cancelled out. What still varies
(how many replies one turn of the event loop finds ready) shows in the spread of ``--repeat``.

    python benchmarks/instructions.py                              # this tree, four modes
    python benchmarks/instructions.py --src /tmp/old/src --src src  # compare trees
    python benchmarks/instructions.py --modes "kycflow memory" "raw from memory"

Needs ``valgrind`` (``apt-get install -y valgrind``). Slow: about a minute per mode and tree.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _bench

MODES = ("kycflow memory", "raw from memory", "kycflow directory", "raw from disk")
PAIRS = (("kycflow memory", "raw from memory"), ("kycflow directory", "raw from disk"))
CONCURRENCY = 100
WARM_UP = 150  # fills the pool's 100 connections


def drive(mode: str, flows: int, tokens_made: int, base_url: str) -> None:
    """The client side (run under valgrind): ``WARM_UP`` flows, then ``flows`` more, of ``mode``;
    ``tokens_made`` tokens created in every run, whatever ``flows``, so that it costs the same."""
    import aiohttp
    import throughput

    import kycflow

    kycflow.configure_logging(logging.WARNING)

    async def main() -> None:
        sandbox = _bench.SandboxProcess(proc=None, base_url=base_url)
        root = throughput.write_documents(Path(tempfile.mkdtemp(prefix="kycflow-instr-")))
        async with (
            _bench.Admin(sandbox) as admin,
            kycflow.Client(base_url, connection_limit=CONCURRENCY) as client,
            aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=CONCURRENCY),
                timeout=aiohttp.ClientTimeout(total=60),
            ) as session,
        ):
            flow = {
                "kycflow memory": throughput.kycflow_mode(client, throughput.memory_provider()),
                "raw from memory": throughput.raw_mode(session, base_url, None),
                "kycflow directory": throughput.kycflow_mode(
                    client, kycflow.DirectoryProvider(root)
                ),
                "raw from disk": throughput.raw_mode(session, base_url, root),
            }[mode]
            tokens = await admin.create_tokens(max(tokens_made, WARM_UP + flows))
            await throughput.run_flows(flow, tokens[:WARM_UP], CONCURRENCY)
            await throughput.run_flows(flow, tokens[WARM_UP : WARM_UP + flows], CONCURRENCY)
        shutil.rmtree(root, ignore_errors=True)

    asyncio.run(main())


def count(
    src: str | None, mode: str, flows: int, tokens: int, base_url: str, cpus: set[int] | None
) -> int:
    """Instructions the client process executed for ``WARM_UP + flows`` flows."""
    env = dict(os.environ, PYTHONHASHSEED="0")
    if src is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [src, env.get("PYTHONPATH")]))
    cmd = ["valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null"]
    cmd += [sys.executable, __file__, "drive", mode, str(flows), str(tokens), base_url]
    if cpus:
        cmd = ["taskset", "-c", ",".join(map(str, sorted(cpus))), *cmd]
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    found = re.search(r"I\s+refs:\s+([\d,]+)", out.stderr)
    if out.returncode != 0 or found is None:
        raise SystemExit(f"{mode} ({src or 'this tree'}) failed:\n{out.stderr[-2000:]}")
    return int(found.group(1).replace(",", ""))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("role", nargs="?", default="parent", choices=("parent", "drive"))
    parser.add_argument("args", nargs="*", help=argparse.SUPPRESS)
    parser.add_argument("--src", action="append", help="a tree's src/ (repeat to compare)")
    parser.add_argument("--modes", nargs="+", choices=MODES, default=list(MODES))
    parser.add_argument("--small", type=int, default=100, help=">= 100, the concurrency")
    parser.add_argument("--large", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=1, help="measurements per mode and tree")
    args = parser.parse_args()
    if args.role == "drive":
        mode, flows, tokens, base_url = args.args
        drive(mode, int(flows), int(tokens), base_url)
        return
    if not CONCURRENCY <= args.small < args.large:
        raise SystemExit(f"need {CONCURRENCY} <= --small < --large")
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed (apt-get install -y valgrind)")
    print(f"machine: {_bench.machine_note()}")
    client_cpus, sandbox_cpus, pin_note = _bench.cpu_plan(True)
    print(f"cpus: {pin_note}; {args.large - args.small} flows counted per mode, after a warm-up\n")
    trees: list[str | None] = args.src or [None]
    per_flow: dict[tuple[str | None, str], float] = {}
    tokens = WARM_UP + args.large
    with _bench.sandbox_process(cpus=sandbox_cpus) as sandbox:
        for src in trees:
            for mode in args.modes:
                found = []
                for _ in range(args.repeat):
                    small = count(src, mode, args.small, tokens, sandbox.base_url, client_cpus)
                    large = count(src, mode, args.large, tokens, sandbox.base_url, client_cpus)
                    found.append((large - small) / (args.large - args.small))
                per_flow[src, mode] = _bench.median(found)
                spread = ", ".join(f"{value / 1e6:.3f}" for value in found)
                print(f"{src or 'this tree'} {mode}: {spread} M", flush=True)
    headers = ["tree", *[f"{mode} (M instr/flow)" for mode in args.modes]]
    rows = [
        (src or "this tree", *[per_flow[src, mode] / 1e6 for mode in args.modes]) for src in trees
    ]
    print("\n" + _bench.table(headers, rows) + "\n")
    for src in trees:
        for kyc, raw in PAIRS:
            if (src, kyc) in per_flow and (src, raw) in per_flow:
                ratio = per_flow[src, kyc] / per_flow[src, raw]
                print(f"{src or 'this tree'}: {kyc} / {raw}: {ratio:.3f}x instructions per flow")
    if len(trees) > 1:
        first = trees[0]
        for src in trees[1:]:
            for mode in args.modes:
                ratio = per_flow[src, mode] / per_flow[first, mode]
                print(f"{mode}: {src} / {first}: {ratio:.3f}x")


if __name__ == "__main__":
    main()
