"""The command line itself: help, version, usage errors, and rich being optional."""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import re
import sys
from pathlib import Path

import aiohttp
import pytest
from clikit import ASSETS, CLI
from polling import eventually

from kycflow import __version__
from kycflow.cli import COMMANDS, build_parser, command_module
from kycflow.cli._auth import make_client, resolve_auth
from kycflow.cli.sandbox import serve_with_user
from kycflow.testing import Sandbox
from kycflow.testing.serve import add_serve_arguments, sandbox_options

DOCS = Path(__file__).resolve().parents[2] / "docs" / "cli.md"


@pytest.fixture
def no_rich(monkeypatch: pytest.MonkeyPatch) -> None:
    """``import rich`` and every ``import rich.x`` fail, as without the ``cli`` extra."""
    for name in [n for n in sys.modules if n == "rich" or n.startswith("rich.")]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, "rich", None)
    monkeypatch.setitem(sys.modules, "rich.progress", None)


def test_version(cli: CLI) -> None:
    done = cli("--version")
    assert done.code == 0
    assert done.out.strip() == f"kycflow {__version__}"


def test_help_lists_every_command_and_the_exit_codes(cli: CLI) -> None:
    done = cli("--help")
    assert done.code == 0
    for name in ("demo", "run", "batch", "history", "watch", "sandbox"):
        assert name in done.out
    assert "3 the wizard needs documents" in done.out
    assert "6 watch: the level was not granted" in done.out
    assert "130 interrupted (Ctrl-C)" in done.out
    assert "143 terminated (SIGTERM)" in done.out


def test_docs_list_every_command_and_exit_code() -> None:
    text = DOCS.read_text(encoding="utf-8")
    commands = set(COMMANDS)
    table = text[: text.index("## Exit codes")]
    assert set(re.findall(r"^\| `([a-z]+)` \|", table, re.M)) == commands
    codes = text[text.index("## Exit codes") : text.index("## Authentication")]
    assert set(re.findall(r"^\| (\d+) \|", codes, re.M)) == {
        "0",
        "1",
        "2",
        "3",
        "4",
        "5",
        "6",
        "130",
        "143",
    }


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
    for name in COMMANDS:
        args = parser.parse_args([name, *_minimal(name)])
        assert args.handler is command_module(name).handle


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


def test_batch_without_rich_exits_2_or_runs_with_no_progress(
    cli: CLI, sandbox: Sandbox, tmp_path: Path, no_rich: None
) -> None:
    # It was "unexpected ModuleNotFoundError: No module named 'rich'", exit 1, after the jobs
    # had been read; now a usage error before anything is sent.
    user = sandbox.create_user()
    jobs = tmp_path / "jobs.jsonl"
    jobs.write_text(
        json.dumps({"key": "a", "token": user.access_token, "documents": str(ASSETS)}) + "\n"
    )
    done = cli("batch", str(jobs), "--base-url", sandbox.base_url)
    assert done.code == 2
    assert "pip install 'kycflow[cli]'" in done.err
    assert "--no-progress" in done.err
    assert "ModuleNotFoundError" not in done.err
    assert sandbox.requests() == []
    quiet = cli("batch", str(jobs), "--base-url", sandbox.base_url, "--no-progress")
    assert quiet.code == 0, quiet.err
    assert json.loads(quiet.out)["status"] == "complete"
    for command in (["demo"], ["run", "--base-url", sandbox.base_url, "--token", "at_x1234",
                               "--documents", str(ASSETS)]):  # fmt: skip
        refused = cli(*command)
        assert refused.code == 2
        assert "pip install 'kycflow[cli]'" in refused.err


def test_plain_http_to_a_remote_host_names_the_cli_flag(cli: CLI) -> None:
    for command in (["history", "--token", "at_x1234"],
                    ["run", "--token", "at_x1234", "--documents", str(ASSETS)],
                    ["batch", "jobs.jsonl"]):  # fmt: skip
        done = cli(command[0], "--base-url", "http://kyc.example/api", *command[1:])
        assert done.code == 2
        assert "refusing plain http to kyc.example" in done.err
        assert "--allow-insecure-http" in done.err
        assert "allow_insecure_http=True" not in done.err


async def test_allow_insecure_http_reaches_the_client() -> None:
    parser = build_parser()
    args = parser.parse_args(["history", "--base-url", "http://kyc.example/api", "--token",
                              "at_x1234", "--allow-insecure-http"])  # fmt: skip
    async with make_client(resolve_auth(args, stdin=io.StringIO())) as client:
        assert client.base_url == "http://kyc.example/api"  # accepted: nothing was sent
    # Loopback needs no flag, as before.
    loopback = parser.parse_args(["history", "--base-url", "http://127.0.0.1:9/api", "--token",
                                  "at_x1234"])  # fmt: skip
    assert resolve_auth(loopback, stdin=io.StringIO()).allow_insecure_http is False


def _option_strings(parser: argparse.ArgumentParser) -> set[str]:
    return {s for a in parser._actions for s in a.option_strings} - {"-h", "--help"}


def test_kycflow_sandbox_has_the_options_of_python_m_kycflow_testing() -> None:
    alone = argparse.ArgumentParser()
    add_serve_arguments(alone)
    subparsers = build_parser()._subparsers
    assert subparsers is not None
    sandbox_parser = subparsers._group_actions[0].choices["sandbox"]  # type: ignore[attr-defined]
    assert _option_strings(alone) <= _option_strings(sandbox_parser)
    assert {"--no-throttle", "--token-ttl"} <= _option_strings(sandbox_parser)
    args = build_parser().parse_args(["sandbox", "--no-throttle", "--token-ttl", "0.4"])
    assert sandbox_options(args) == {"throttle_signin": False, "access_token_ttl": 0.4}
    assert build_parser().parse_args(["sandbox"]).token_ttl == 3600.0


async def test_kycflow_sandbox_token_ttl_is_applied() -> None:
    # The printed token is issued before the banner: the first request (through a new
    # session) must land within its lifetime, so the lifetime leaves room for a loaded
    # machine. The 401 is certain: it comes a whole lifetime after the 200.
    ttl = 1.0
    args = build_parser().parse_args(["sandbox", "--port", "0", "--token-ttl", str(ttl)])
    out = io.StringIO()
    stop = asyncio.Event()
    serving = asyncio.create_task(
        serve_with_user(
            args.host,
            args.port,
            args.scenario,
            args.seed,
            out=out,
            stop=stop,
            **sandbox_options(args),
        )
    )
    try:
        await eventually(lambda: "Press Ctrl-C" in out.getvalue(), "the sandbox's banner")
        lines = dict(line.strip().partition(": ")[::2] for line in out.getvalue().splitlines())
        base_url = out.getvalue().split()[4]
        headers = {"Authorization": "Bearer " + lines["token"].strip()}
        async with aiohttp.ClientSession() as http:
            async with http.get(base_url + "/v2/my/verifications", headers=headers) as r:
                assert r.status == 200
            await asyncio.sleep(ttl + 0.1)
            async with http.get(base_url + "/v2/my/verifications", headers=headers) as r:
                assert r.status == 401  # the token lived 1.0 s, not the default hour
    finally:
        stop.set()
        await serving


def test_bad_token_ttl_exits_2(cli: CLI) -> None:
    for bad in ("0", "-1", "soon"):
        done = cli("sandbox", "--token-ttl", bad)
        assert done.code == 2
        assert "--token-ttl" in done.err


def test_the_lazy_help_of_each_command_is_the_one_its_module_registers() -> None:
    # ``kycflow --help`` lists commands from COMMANDS without importing them: no drift.
    def helps(parser: argparse.ArgumentParser) -> dict[str, str | None]:
        subparsers = parser._subparsers
        assert subparsers is not None
        action = subparsers._group_actions[0]
        return {a.dest: a.help for a in action._choices_actions}  # type: ignore[attr-defined]

    full = helps(build_parser())
    assert full == {name: help_text for name, (help_text, _) in COMMANDS.items()}
    for name in COMMANDS:
        assert helps(build_parser(only=name)) == full
