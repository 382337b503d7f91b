"""Python opcodes per complete flow, split by where they run: kycflow, aiohttp, asyncio, the rest.

Instruction counts (``instructions.py``) say how much dearer a kycflow flow is than a raw one;
this says where the difference is. Every opcode the client process runs while the flows run is
counted with ``sys.settrace`` (``f_trace_opcodes``), by file and function; the sandbox runs in
its own process and is not counted. Tracing makes a flow about 50 times slower, so few flows are
counted, after a warm-up that fills the pool; the counts hardly vary between runs. Each mode
runs in a fresh interpreter, one after the other.

    python benchmarks/opcodes.py                          # kycflow memory and raw from memory
    python benchmarks/opcodes.py --top 40 --group aiohttp  # the 40 dearest aiohttp functions
    python benchmarks/opcodes.py --src /tmp/old/src --src src  # two trees, same harness

A tree's own sandbox answers its runs (an older tree's may make fewer requests a flow): compare
each tree's kycflow mode with the raw mode measured against the same tree.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import logging
import os
import subprocess
import sys
from pathlib import Path
from types import FrameType
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

MODES = ("kycflow memory", "raw from memory")
GROUPS = ("kycflow", "aiohttp", "asyncio", "other")


def group_of(filename: str) -> str:
    """Which part of the stack a code object's file belongs to."""
    if "/kycflow/" in filename:
        return "kycflow"
    if any(part in filename for part in ("/aiohttp/", "/yarl/", "/multidict/", "/propcache/")):
        return "aiohttp"
    if "/asyncio/" in filename:
        return "asyncio"
    return "other"


def short_name(filename: str, function: str) -> str:
    for marker in ("site-packages/", "/src/", "/lib/python3"):
        if marker in filename:
            filename = filename.split(marker, 1)[1]
            break
    return f"{filename}:{function}"


async def count(mode: str, flows: int, concurrency: int) -> dict[str, int]:
    """Opcodes per flow of ``mode`` by ``group file:function``."""
    import _bench
    import aiohttp
    import throughput

    import kycflow

    kycflow.configure_logging(logging.WARNING)
    counts: collections.Counter[tuple[str, str]] = collections.Counter()

    def tracer(frame: FrameType, event: str, arg: Any) -> Any:
        frame.f_trace_opcodes = True
        if event == "opcode":
            code = frame.f_code
            counts[(code.co_filename, code.co_name)] += 1
        return tracer

    with _bench.sandbox_process() as sandbox:
        async with (
            _bench.Admin(sandbox) as admin,
            kycflow.Client(sandbox.base_url, connection_limit=100) as client,
            aiohttp.ClientSession() as session,
        ):
            if mode == "kycflow memory":
                flow = throughput.kycflow_mode(client, throughput.memory_provider())
            else:
                flow = throughput.raw_mode(session, sandbox.base_url, None)
            await throughput.measure(admin, sandbox, flow, 2 * concurrency, concurrency)
            tokens = await admin.create_tokens(flows)
            sys.settrace(tracer)
            try:
                await throughput.run_flows(flow, tokens, concurrency)
            finally:
                sys.settrace(None)
    return {f"{group_of(f)} {short_name(f, n)}": total // flows for (f, n), total in counts.items()}


def run_child(src: str | None, mode: str, args: argparse.Namespace) -> dict[str, int]:
    env = dict(os.environ, PYTHONHASHSEED="0")
    if src is not None:
        env["PYTHONPATH"] = str(Path(src).resolve())
    cmd = [sys.executable, __file__, "--child", mode, "--flows", str(args.flows)]
    cmd += ["--concurrency", str(args.concurrency)]
    out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout
    result: dict[str, int] = json.loads(out.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--src", action="append", help="a tree's src/ (repeat to compare)")
    parser.add_argument("--flows", type=int, default=50, help="flows counted per mode")
    parser.add_argument("--concurrency", type=int, default=25)
    parser.add_argument("--top", type=int, default=15, help="dearest functions listed")
    parser.add_argument("--group", choices=GROUPS, default="kycflow")
    parser.add_argument("--child", choices=MODES, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(asyncio.run(count(args.child, args.flows, args.concurrency))))
        return
    import _bench

    print(_bench.machine_note())
    rows = []
    for src in args.src or [None]:
        totals = {}
        for mode in MODES:
            per_function = run_child(src, mode, args)
            by_group = collections.Counter[str]()
            for key, n in per_function.items():
                by_group[key.split(" ", 1)[0]] += n
            totals[mode] = sum(by_group.values())
            tree = src or "this tree"
            rows.append((tree, mode, *(by_group[g] for g in GROUPS), totals[mode]))
            if mode == "kycflow memory":
                dearest = sorted(
                    (
                        (n, key.split(" ", 1)[1])
                        for key, n in per_function.items()
                        if key.startswith(args.group + " ")
                    ),
                    reverse=True,
                )[: args.top]
                print(f"\n{tree}, {mode}: the dearest {args.group} functions (opcodes a flow)")
                for n, name in dearest:
                    print(f"{n:8,d}  {name}")
        ratio = totals["kycflow memory"] / totals["raw from memory"]
        print(f"\n{src or 'this tree'}: kycflow memory / raw from memory, opcodes: {ratio:.3f}")
    print("\n" + _bench.table(["tree", "mode", *GROUPS, "total"], rows))


if __name__ == "__main__":
    main()
