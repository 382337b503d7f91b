"""Start-up cost: ``kycflow --help`` and ``import kycflow`` against importing kycflow's runtime
dependencies (aiohttp, pydantic, tenacity, structlog), median wall time of N fresh interpreters,
the cases interleaved round by round.

    python benchmarks/startup.py               # 21 rounds
    python benchmarks/startup.py --rounds 41

Targets: ``kycflow --help`` <= 0.15 s; ``import kycflow`` <= 1.1x the dependencies. Also shown:
the bare interpreter, and the whole public face (``from kycflow import *``: every module a
program using the client and the runner loads) against the same baseline.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src"


def cases() -> dict[str, list[str]]:
    """Case name -> the command line of one fresh interpreter."""
    py = sys.executable
    script = shutil.which("kycflow", path=str(Path(py).parent))
    help_cmd = [script, "--help"] if script else [py, "-m", "kycflow.cli", "--help"]
    return {
        "python -c pass": [py, "-c", "pass"],
        "dependencies": [py, "-c", "import aiohttp, pydantic, tenacity, structlog"],
        "import kycflow": [py, "-c", "import kycflow"],
        "from kycflow import *": [py, "-c", "from kycflow import *"],
        "kycflow --help": help_cmd,
    }


def timed(cmd: list[str], env: dict[str, str]) -> float:
    """Wall seconds of one run (its output discarded); a failure stops the benchmark."""
    started = time.perf_counter()
    done = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{cmd} failed: {done.stderr.decode(errors='replace')[-500:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=21)
    args = parser.parse_args()
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]),
    }
    runs = cases()
    for cmd in runs.values():  # warm-up: byte code compiled, files in the page cache
        timed(cmd, env)
    times: dict[str, list[float]] = {name: [] for name in runs}
    names = list(runs)
    for number in range(args.rounds):
        shift = number % len(names)
        for name in names[shift:] + names[:shift]:
            times[name].append(timed(runs[name], env))
    med = {name: statistics.median(values) for name, values in times.items()}
    print(
        f"Python {sys.version.split()[0]}, {len(os.sched_getaffinity(0))} cpu(s), "
        f"{args.rounds} interleaved rounds, median wall seconds of a fresh interpreter\n"
    )
    print("| case | median s | min s | max s |")
    print("|---|---|---|---|")
    for name, values in times.items():
        print(f"| {name} | {med[name]:.3f} | {min(values):.3f} | {max(values):.3f} |")
    deps = med["dependencies"]
    ratio = med["import kycflow"] / deps
    face = med["from kycflow import *"] / deps
    help_s = med["kycflow --help"]
    verdict = "met" if help_s <= 0.15 else "NOT met"
    print(f"\nkycflow --help: {help_s:.3f} s; target <= 0.150: {verdict}")
    print(
        f"import kycflow / dependencies: {ratio:.3f}; target <= 1.10: "
        f"{'met' if ratio <= 1.1 else 'NOT met'}"
    )
    print(f"from kycflow import * / dependencies: {face:.3f} (every public module loaded)")


if __name__ == "__main__":
    main()
