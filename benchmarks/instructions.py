"""Instructions per complete flow, counted by valgrind: a noise-free comparison of trees and modes.

Client CPU time on a shared machine moves by 10-20% between runs of the same code, which hides
differences of a few percent (``throughput.py`` needs many alternated runs). Instruction counts
do not move with the machine's load: each mode's client runs under ``valgrind --tool=cachegrind
--cache-sim=no`` (the sandbox natively, in its own process), once with ``--small`` flows and once
with ``--large`` flows after the same 50-flow warm-up; the difference, divided by the extra
flows, is what one flow costs, start-up and warm-up cancelled out.

    python benchmarks/instructions.py                              # this tree, four modes
    python benchmarks/instructions.py --src /tmp/old/src --src src  # compare trees
    python benchmarks/instructions.py --modes "kycflow memory" "raw from memory"

Needs ``valgrind`` (``apt-get install -y valgrind``). Slow: about 40 s per mode and tree.
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
WARM_UP = 50


def drive(mode: str, flows: int, base_url: str) -> None:
    """The client side: ``WARM_UP`` flows, then ``flows`` more, of ``mode`` (run under valgrind)."""
    import aiohttp
    import throughput

    import kycflow

    kycflow.configure_logging(logging.WARNING)

    async def main() -> None:
        sandbox = _bench.SandboxProcess(proc=None, base_url=base_url)  # type: ignore[arg-type]
        root = throughput.write_documents(Path(tempfile.mkdtemp(prefix="kycflow-instr-")))
        async with (
            _bench.Admin(sandbox) as admin,
            kycflow.Client(base_url, connection_limit=100) as client,
            aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=100),
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
            tokens = await admin.create_tokens(WARM_UP + flows)
            await throughput.run_flows(flow, tokens[:WARM_UP], WARM_UP)
            await throughput.run_flows(flow, tokens[WARM_UP:], 100)
        shutil.rmtree(root, ignore_errors=True)

    asyncio.run(main())


def count(src: str | None, mode: str, flows: int, base_url: str, cpus: set[int] | None) -> int:
    """Instructions the client process executed for ``WARM_UP + flows`` flows."""
    env = dict(os.environ)
    if src is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [src, env.get("PYTHONPATH")]))
    cmd = ["valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null"]
    cmd += [sys.executable, __file__, "drive", mode, str(flows), base_url]
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
    parser.add_argument("--small", type=int, default=20)
    parser.add_argument("--large", type=int, default=220)
    args = parser.parse_args()
    if args.role == "drive":
        mode, flows, base_url = args.args
        drive(mode, int(flows), base_url)
        return
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed (apt-get install -y valgrind)")
    print(f"machine: {_bench.machine_note()}")
    client_cpus, sandbox_cpus, pin_note = _bench.cpu_plan(True)
    print(f"cpus: {pin_note}; {args.large - args.small} flows counted per mode, after a warm-up\n")
    trees: list[str | None] = args.src or [None]
    per_flow: dict[tuple[str | None, str], float] = {}
    with _bench.sandbox_process(cpus=sandbox_cpus) as sandbox:
        for src in trees:
            for mode in args.modes:
                small = count(src, mode, args.small, sandbox.base_url, client_cpus)
                large = count(src, mode, args.large, sandbox.base_url, client_cpus)
                per_flow[src, mode] = (large - small) / (args.large - args.small)
                print(f"{src or 'this tree'} {mode}: {per_flow[src, mode] / 1e6:.3f} M", flush=True)
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
