"""Helpers of the arq tests: free ports, child processes, the workers' environment."""

from __future__ import annotations

import os
import select
import socket
import subprocess
from pathlib import Path

import pytest

import kycflow

HERE = Path(__file__).parent
ASSETS = Path(kycflow.__file__).parent / "assets"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def stop_process(proc: subprocess.Popen[bytes], timeout: float = 5.0) -> None:
    """SIGTERM, then SIGKILL if it lingers."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout)
    for stream in (proc.stdin, proc.stdout, proc.stderr):
        if stream is not None:
            stream.close()


def read_line(proc: subprocess.Popen[bytes], timeout: float) -> str:
    """One line of the process's stdout, or fail after ``timeout`` seconds."""
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    if not ready:
        pytest.fail("the process printed nothing in time")
    return proc.stdout.readline().decode()


def worker_env(**extra: str) -> dict[str, str]:
    """This environment plus ``extra``, with this directory importable (the settings module)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(HERE), env.get("PYTHONPATH")]))
    env.update(extra)
    return env
