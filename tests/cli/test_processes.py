"""``kycflow demo`` and ``kycflow sandbox`` as real processes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request

import pytest

import kycflow

COMMAND = [sys.executable, "-m", "kycflow.cli"]


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("KYCFLOW_")}


def test_demo_runs_end_to_end() -> None:
    done = subprocess.run(
        [*COMMAND, "demo"], capture_output=True, text=True, timeout=60, env=_env(), check=False
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "second factor (google)" in out
    assert "Verification complete: 3 step(s) submitted" in out
    assert "Verification history" in out
    assert "Application: 1" in out
    assert "Level granted: Level 1" in out  # after the sandbox's simulated review
    assert done.stderr == ""


def test_python_m_kycflow_is_the_kycflow_command() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "kycflow", "--version"],
        capture_output=True,
        text=True,
        timeout=60,
        env=_env(),
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert kycflow.__version__ in done.stdout


@pytest.mark.timeout(60)
def test_sandbox_serves_until_terminated() -> None:
    with subprocess.Popen(
        [*COMMAND, "sandbox", "--port", "0", "--seed", "7"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
    ) as proc:
        _check_serving(proc)
    assert proc.returncode == 0


def _check_serving(proc: subprocess.Popen[str]) -> None:
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert first.startswith("kycflow sandbox listening on http://127.0.0.1:"), first
        base_url = first.split()[-1]
        lines = {}
        for _ in range(3):
            key, _, value = proc.stdout.readline().partition(":")
            lines[key.strip()] = value.strip()
        assert lines["user"] == "demo@sandbox.test"
        request = urllib.request.Request(
            base_url + "/v2/my/verifications",
            headers={"Authorization": f"Bearer {lines['token']}"},
        )
        with urllib.request.urlopen(request, timeout=10) as reply:
            assert reply.status == 200
            assert json.loads(reply.read())["total"] == 1
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)
