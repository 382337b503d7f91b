"""The command line itself: help, version, usage errors, and rich being optional."""

from __future__ import annotations

import sys

import pytest
from clikit import CLI

from kycflow import __version__
from kycflow.cli import COMMANDS, build_parser
from kycflow.testing import Sandbox


def test_version(cli: CLI) -> None:
    done = cli("--version")
    assert done.code == 0
    assert done.out.strip() == f"kycflow {__version__}"


def test_help_lists_every_command_and_the_exit_codes(cli: CLI) -> None:
    done = cli("--help")
    assert done.code == 0
    for name in ("demo", "run", "history", "sandbox"):
        assert name in done.out
    assert "3 the wizard needs documents" in done.out


def test_no_command_is_a_usage_error(cli: CLI) -> None:
    done = cli()
    assert done.code == 2
    assert "COMMAND" in done.err


@pytest.mark.parametrize(
    "args",
    [
        ["frobnicate"],
        ["run", "--base-url", "http://127.0.0.1:1/api", "--token", "t0k3n-value"],
        ["history", "--base-url", "http://127.0.0.1:1/api", "--token", "tok", "--limit", "0"],
        ["history", "--base-url", "http://127.0.0.1:1/api", "--limit", "x"],
        ["sandbox", "--port", "not-a-port"],
    ],
)
def test_bad_arguments_exit_2(cli: CLI, args: list[str]) -> None:
    done = cli(*args)
    assert done.code == 2
    assert done.out == ""
    assert "error" in done.err


def test_every_command_module_registers_a_handler() -> None:
    parser = build_parser()
    for module in COMMANDS:
        name = module.__name__.rsplit(".", 1)[1]
        args = parser.parse_args([name, *_minimal(name)])
        assert args.handler is module.handle


def _minimal(name: str) -> list[str]:
    return {"run": ["--documents", "."], "batch": ["jobs.jsonl"]}.get(name, [])


def test_verbose_is_accepted_before_and_after_the_command() -> None:
    parser = build_parser()
    assert parser.parse_args(["--verbose", "demo"]).verbose is True
    assert parser.parse_args(["demo", "--verbose"]).verbose is True
    assert parser.parse_args(["demo"]).verbose is False


def test_without_rich_drawing_commands_say_how_to_install_it(
    cli: CLI, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = sandbox.create_user()
    monkeypatch.setitem(sys.modules, "rich", None)  # makes ``import rich`` fail
    done = cli("history", "--base-url", sandbox.base_url, "--token", user.access_token)
    assert done.code == 2
    assert "pip install 'kycflow[cli]'" in done.err
    assert cli("sandbox", "--help").code == 0
    assert sandbox.requests() == []
