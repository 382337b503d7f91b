"""quickstart.py and worker.py run to completion as scripts (each starts its own sandbox)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def run_example(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KYCFLOW_")}
    return subprocess.run(
        [sys.executable, str(EXAMPLES / args[0]), *args[1:]],
        capture_output=True,
        text=True,
        timeout=90,
        env=env,
        check=False,
    )


def test_quickstart_verifies_a_sandbox_user() -> None:
    done = run_example("quickstart.py")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "step 1: Passport (1 file(s))",
        "step 2: Selfie (1 file(s))",
        "step 3: Proof of address (1 file(s))",
        "verification complete",
    ]


def test_worker_verifies_fifty_users_without_duplicates() -> None:
    done = run_example("worker.py", "--users", "50", "--concurrency", "8")
    assert done.returncode == 0, done.stdout + done.stderr
    summary = dict(
        (key.strip(), value.strip())
        for key, _, value in (line.partition(":") for line in done.stdout.splitlines())
    )
    assert summary["verified"] == "50"
    assert summary["failed"] == "0"
    assert summary["steps"] == "150"
    assert summary["duplicates"] == "0"
    assert summary["granted"].startswith("50 ")  # each user's level, seen by the watcher
