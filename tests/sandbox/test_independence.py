"""The test kit shares no code path with the client it tests: only the public models (and the
errors and version) of the library, and its routes work on the public ``SandboxState``."""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import kycflow.testing

KIT = Path(kycflow.testing.__file__).resolve().parent
ALLOWED = {"kycflow.models", "kycflow.errors", "kycflow._version"}
# The seam's canned-reply fake is a client-side piece by design (it implements the transport).
CLIENT_SIDE = {"mock_transport.py"}


def _imports(path: Path) -> list[tuple[int, str]]:
    """``(level, module)`` of every import in ``path`` (level 0: absolute)."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(0, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            found.append((node.level, node.module or ""))
    return found


def test_the_kit_imports_only_models_errors_and_version_of_the_library() -> None:
    wrong = []
    for path in sorted(KIT.glob("*.py")):
        if path.name in CLIENT_SIDE:
            continue
        for level, module in _imports(path):
            outside = level > 1 or (level == 0 and module.split(".")[0] == "kycflow")
            name = module if level == 0 else "kycflow." + module
            if outside and not module.startswith("kycflow.testing") and name not in ALLOWED:
                wrong.append(f"{path.name}: {'.' * level}{module}")
    assert wrong == []


def test_routes_use_only_the_public_state_and_not_the_sandbox_class() -> None:
    for path in [*sorted(KIT.glob("_routes_*.py")), KIT / "_middleware.py", KIT / "_gate.py"]:
        modules = {module for _, module in _imports(path)}
        assert "sandbox" not in modules, path.name
        assert "kycflow.testing.sandbox" not in modules, path.name
        text = path.read_text(encoding="utf-8")
        assert re.search(r"\b(state|sb|sandbox)\._[a-z]", text) is None, path.name


def test_starting_a_sandbox_loads_no_client_module() -> None:
    script = (
        "import asyncio, json, sys\n"
        "from kycflow.testing import Sandbox\n"
        "async def main():\n"
        "    async with Sandbox() as sb:\n"
        "        sb.create_user()\n"
        "asyncio.run(main())\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith('kycflow'))))"
    )
    env = {**os.environ, "PYTHONPATH": str(KIT.parent.parent)}
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=60
    )
    assert out.returncode == 0, out.stderr
    loaded = json.loads(out.stdout.splitlines()[-1])
    library = [m for m in loaded if m != "kycflow" and not m.startswith("kycflow.testing")]
    assert set(library) <= ALLOWED
