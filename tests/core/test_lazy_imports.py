"""``import kycflow`` is cheap: public names are imported when first used, the CLI imports only
the command it runs. Each check runs in a fresh interpreter (``sys.modules`` of this one is
already full)."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import kycflow

SRC = Path(kycflow.__file__).resolve().parent.parent
_HEAVY = ("kycflow.cli", "kycflow.testing", "kycflow.integrations", "arq", "redis", "rich")


def _modules_after(code: str) -> list[str]:
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    script = f"{code}\nimport sys, json\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=60
    )
    assert out.returncode == 0, out.stderr
    modules: list[str] = json.loads(out.stdout.splitlines()[-1])
    return modules


def _loaded(modules: list[str], roots: tuple[str, ...]) -> list[str]:
    return [m for m in modules if any(m == r or m.startswith(r + ".") for r in roots)]


def test_import_kycflow_imports_no_dependency_and_no_cli_sandbox_arq_redis_or_rich() -> None:
    modules = _modules_after("import kycflow")
    assert _loaded(modules, _HEAVY) == []
    assert _loaded(modules, ("aiohttp", "pydantic", "structlog", "tenacity")) == []
    assert _loaded(modules, ("kycflow",)) == ["kycflow", "kycflow._version"]


def test_the_whole_public_face_imports_no_cli_sandbox_arq_or_redis() -> None:
    # rich may come with structlog (its dev renderer imports it when installed): not ours.
    modules = _modules_after("from kycflow import *\nkycflow = __import__('kycflow')")
    assert _loaded(modules, _HEAVY[:-1]) == []
    assert "kycflow.wizard.runner" in modules
    assert "kycflow.client" in modules


def test_help_imports_no_command_module_and_no_dependency() -> None:
    code = (
        "import contextlib, io\nfrom kycflow.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n    assert main(['--help']) == 0"
    )
    modules = _modules_after(code)
    commands = [f"kycflow.cli.{name}" for name in ("demo", "run", "batch", "history", "sandbox")]
    assert [m for m in modules if m in commands] == []
    assert _loaded(modules, ("aiohttp", "pydantic", "structlog", "kycflow.testing", "rich")) == []


def test_a_command_imports_its_own_module_only() -> None:
    code = (
        "import contextlib, io\nfrom kycflow.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    assert main(['history', '--help']) == 0"
    )
    modules = _modules_after(code)
    assert "kycflow.cli.history" in modules
    others = ("kycflow.cli.demo", "kycflow.cli.run", "kycflow.cli.batch", "kycflow.cli.sandbox")
    assert [m for m in modules if m in others] == []
    assert _loaded(modules, ("kycflow.testing",)) == []


def test_every_export_resolves_and_dir_lists_it() -> None:
    for name in kycflow.__all__:
        assert getattr(kycflow, name) is not None
    assert set(kycflow.__all__) <= set(dir(kycflow))
    assert kycflow.wizard.events is sys.modules["kycflow.wizard.events"]
    assert kycflow.Client.__module__ == "kycflow.client"


def test_unknown_attribute_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="NoSuchThing"):
        kycflow.NoSuchThing  # type: ignore[attr-defined]  # noqa: B018


def test_exports_all_and_type_checking_imports_agree() -> None:
    # Three lists name each export; they must not drift apart.
    tree = ast.parse(Path(kycflow.__file__).read_text(encoding="utf-8"))
    checked: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
            for stmt in node.body:
                if isinstance(stmt, ast.ImportFrom) and stmt.level == 1:
                    for alias in stmt.names:
                        module = "." + (stmt.module or alias.name)
                        checked[alias.name] = module
    exports = kycflow._EXPORTS
    assert checked == exports
    assert set(kycflow.__all__) == {*exports, "__version__"}
