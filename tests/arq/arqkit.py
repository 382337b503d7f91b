"""Helpers of the arq tests: free ports, child processes, the workers' environment."""

from __future__ import annotations

import os
import select
import subprocess
from pathlib import Path

import pytest
from redis_fixtures import free_port as free_port
from redis_fixtures import stop_process as stop_process

import kycflow

HERE = Path(__file__).parent
ASSETS = Path(kycflow.__file__).parent / "assets"


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
