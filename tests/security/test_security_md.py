"""SECURITY.md names, for every promise, tests that exist."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# `tests/x/test_y.py::test_z`, or `::test_z` for the file named just before.
REFERENCE = re.compile(r"`(tests/[\w/]+\.py)?::(test_\w+)`")
UNPROVEN = {"Reporting a vulnerability", "Known limits"}


def _tests_in(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    return {
        node.name for node in tree.body if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    }


def _sections(text: str) -> dict[str, str]:
    parts = re.split(r"^## (.+)$", text, flags=re.MULTILINE)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def test_every_promise_names_tests_that_exist() -> None:
    text = (ROOT / "SECURITY.md").read_text()
    missing: list[str] = []
    current: str | None = None
    named = 0
    for match in REFERENCE.finditer(text):
        current = match.group(1) or current
        assert current is not None, f"::{match.group(2)} names no file"
        path = ROOT / current
        if not path.is_file() or match.group(2) not in _tests_in(path):
            missing.append(f"{current}::{match.group(2)}")
        named += 1
    assert missing == []
    assert named > 40
    unproven = [
        title
        for title, body in _sections(text).items()
        if title not in UNPROVEN and not REFERENCE.search(body)
    ]
    assert unproven == []


def test_the_check_can_fail(tmp_path: Path) -> None:
    assert REFERENCE.search("`tests/core/test_auth.py::test_nope`")
    assert "test_nope" not in _tests_in(ROOT / "tests/core/test_auth.py")
    assert _sections("## A\nno test\n## B\n`::test_x`\n") == {
        "A": "\nno test\n",
        "B": "\n`::test_x`\n",
    }
