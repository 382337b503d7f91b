"""The README's two commands and ``.ci/run``: a virtualenv first, never pip into the system
Python, and ``.ci/run`` handing over to nox from its own virtualenv."""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CI_RUN = ROOT / ".ci" / "run"


def _first_bash_block() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```bash\n(.*?)```", text, re.S)
    assert block is not None
    return block.group(1).strip().splitlines()


def test_readme_commands_make_a_virtualenv_first() -> None:
    install, test = _first_bash_block()
    steps = [s.strip() for s in install.split("&&")]
    assert steps[0] == "python3 -m venv .venv"
    assert steps[1] == ". .venv/bin/activate"
    assert steps[2].startswith("pip install")
    assert steps[-1] == "kycflow demo"
    assert test == "bash .ci/run"


def _executable(path: Path, body: str) -> None:
    path.write_text("#!/usr/bin/env bash\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


def test_ci_run_runs_nox_from_its_own_virtualenv(tmp_path: Path) -> None:
    assert subprocess.run(["bash", "-n", str(CI_RUN)], check=False).returncode == 0
    text = CI_RUN.read_text(encoding="utf-8")
    assert not re.search(r"^\s*python3? -m pip", text, re.M), "pip into the system Python"
    # A ready virtualenv whose nox records its arguments; apt-get and sudo are fakes too, so
    # nothing is installed whatever this machine lacks.
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    log = tmp_path / "calls"
    _executable(venv / "bin" / "nox", f'echo "nox $*" >> {log}\n')
    fakes = tmp_path / "fakes"
    fakes.mkdir()
    for name in ("apt-get", "sudo"):
        _executable(fakes / name, f'echo "{name} $*" >> {log}\n')
    env = {
        **os.environ,
        "PATH": f"{fakes}{os.pathsep}{os.environ['PATH']}",
        "KYCFLOW_CI_VENV": str(venv),
        "KYCFLOW_PYTHON": sys.executable,
    }
    done = subprocess.run(
        ["bash", str(CI_RUN), "-s", "lint"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    calls = log.read_text().splitlines()
    version = f"{sys.version_info[0]}.{sys.version_info[1]}"
    assert calls[-1] == f"nox --force-python {version} --error-on-missing-interpreters -s lint"
    for call in calls[:-1]:  # only what this machine lacks, through apt-get
        assert call.startswith(("apt-get", "sudo apt-get")), call
