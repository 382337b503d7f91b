"""Ctrl-C and SIGTERM on a real ``kycflow`` process: a message, an exit code, and JSON."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from clikit import ASSETS

from kycflow.testing import Faults, Sandbox, run_in_thread

COMMAND = [sys.executable, "-m", "kycflow.cli"]
CASES = [
    (signal.SIGINT, 130, "kycflow: interrupted (Ctrl-C)"),
    (signal.SIGTERM, 143, "kycflow: terminated (SIGTERM)"),
]


@pytest.fixture
def slow_sandbox() -> Iterator[Sandbox]:
    """Its first submit hangs (for a minute): the run is caught mid-step."""
    faults = Faults(slow_delay=60.0).fail_next("submit", "slow")
    with run_in_thread(Sandbox(faults=faults)) as sandbox:
        yield sandbox


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KYCFLOW_")}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[2] / "src")
    return env


def _start(args: list[str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*COMMAND, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
    )


def _wait_for(condition: object, proc: subprocess.Popen[str], seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():  # type: ignore[operator]
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the command never reached the point to interrupt"
        time.sleep(0.02)


@pytest.mark.timeout(60)
@pytest.mark.parametrize(("signum", "code", "message"), CASES)
def test_run_json_prints_what_is_known(
    slow_sandbox: Sandbox, signum: signal.Signals, code: int, message: str
) -> None:
    user = slow_sandbox.create_user()
    proc = _start(["run", "--base-url", slow_sandbox.base_url, "--token", user.access_token,
                   "--documents", str(ASSETS), "--json"])  # fmt: skip
    # The first file is stored and its step's submit hangs on the server.
    _wait_for(lambda: len(slow_sandbox.uploads(user)) == 1, proc)
    time.sleep(0.2)
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=20)

    assert proc.returncode == code, err
    assert err.strip().splitlines()[-1] == message
    document = json.loads(out)
    assert document["kind"] == "error"
    assert document["schema_version"] == 1
    assert document["exit_code"] == code
    assert document["error"]["type"] == "Interrupted"
    assert document["error"]["message"] == message.removeprefix("kycflow: ")
    partial = document["partial"]
    assert partial["run_id"]
    assert partial["uuid"]  # the wizard was started
    assert partial["steps"] == []  # and no step committed
    assert "Traceback" not in err
    assert user.access_token not in out + err


@pytest.mark.timeout(60)
@pytest.mark.parametrize(("signum", "code", "message"), CASES)
def test_batch_marks_unfinished_jobs_interrupted(
    slow_sandbox: Sandbox, tmp_path: Path, signum: signal.Signals, code: int, message: str
) -> None:
    users = slow_sandbox.create_users(2)
    jobs = tmp_path / "jobs.jsonl"
    jobs.write_text(
        "".join(
            json.dumps({"key": f"job-{i}", "token": u.access_token, "documents": str(ASSETS)})
            + "\n"
            for i, u in enumerate(users)
        )
    )
    proc = _start(["batch", str(jobs), "--base-url", slow_sandbox.base_url, "--no-progress",
                   "--concurrency", "1"])  # fmt: skip
    # job-0's first submit hangs; job-1 has not started.
    _wait_for(lambda: len(slow_sandbox.uploads(users[0])) == 1, proc)
    time.sleep(0.2)
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=20)

    assert proc.returncode == code, err
    lines = [json.loads(line) for line in out.splitlines()]
    assert [(r["key"], r["status"], r["index"]) for r in lines] == [
        ("job-0", "interrupted", 0),
        ("job-1", "interrupted", 1),
    ]
    assert all(r["kind"] == "job_result" and r["error"] is None for r in lines)
    assert "0 complete, 0 failed, 2 interrupted" in err
    assert err.strip().splitlines()[-1] == message


@pytest.mark.timeout(60)
def test_history_json_on_sigterm(tmp_path: Path) -> None:
    # A server that accepts the connection and never answers: history waits on it.
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        proc = _start(["history", "--base-url", f"http://127.0.0.1:{port}/api", "--token",
                       "at_token-1234", "--json"])  # fmt: skip
        conn, _ = server.accept()
        with conn:
            time.sleep(0.2)
            proc.send_signal(signal.SIGTERM)
            out, err = proc.communicate(timeout=20)
    assert proc.returncode == 143, err
    document = json.loads(out)
    assert document["error"]["type"] == "Interrupted"
    assert document["exit_code"] == 143
    assert document["partial"] is None
    assert "terminated (SIGTERM)" in err
