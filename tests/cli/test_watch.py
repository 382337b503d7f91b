"""``kycflow watch``: progress, exit 0 when granted, 6 on timeout, --json, bad input."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from clikit import ASSETS, CLI

from kycflow.testing import Review, Sandbox, SandboxUser, Scenario, run_in_thread

FAST = ("--interval", "0.05", "--max-interval", "0.2")


def _sandbox(**review: object) -> Sandbox:
    base = Scenario.default()
    scenario = Scenario(
        levels=base.levels,
        steps=base.steps,
        initial_level=base.initial_level,
        review=Review(**review),  # type: ignore[arg-type]
    )
    return Sandbox(scenario)


@pytest.fixture
def delayed() -> Iterator[Sandbox]:
    with run_in_thread(_sandbox(delay=0.5)) as sb:
        yield sb


@pytest.fixture
def manual() -> Iterator[Sandbox]:
    with run_in_thread(_sandbox(decision="manual")) as sb:
        yield sb


def _finish(cli: CLI, sb: Sandbox, token: str) -> None:
    ran = cli("run", "--base-url", sb.base_url, "--token", token,
              "--documents", str(ASSETS), "--json")  # fmt: skip
    assert ran.code == 0, ran.err


def _watch(sb: Sandbox, token: str, *extra: str) -> list[str]:
    return ["watch", "--base-url", sb.base_url, "--token", token, *extra]


def _grant_after_first_poll(sb: Sandbox, user: SandboxUser, limit: float = 10.0) -> None:
    """(In a helper thread.) Grant the user's review once the server has answered the user's
    first history read: that read saw the level before the grant, whatever the machine's pace."""
    deadline = time.monotonic() + limit
    while not sb.requests("history", user):
        if time.monotonic() > deadline:
            raise AssertionError(f"no history read within {limit} s")
        time.sleep(0.02)
    sb.decide(user)


def test_exits_0_once_granted_with_progress(cli: CLI, manual: Sandbox) -> None:
    user = manual.create_user()
    _finish(cli, manual, user.access_token)
    with ThreadPoolExecutor(1) as pool:
        granting = pool.submit(_grant_after_first_poll, manual, user)
        done = cli(
            *_watch(manual, user.access_token, "--level", "Level 1", "--timeout", "10", *FAST)
        )
        granting.result()
    assert done.code == 0, done.err
    assert "Granted 'Level 1'" in done.out
    assert "poll 1 at" in done.err
    assert "current level Level 0" in done.err
    assert user.access_token not in done.both


def test_json_when_granted(cli: CLI, delayed: Sandbox) -> None:
    user = delayed.create_user()
    _finish(cli, delayed, user.access_token)
    done = cli(*_watch(delayed, user.access_token, "--level-id", "2", "--json", *FAST))
    assert done.code == 0, done.err
    data = json.loads(done.out)
    assert data["granted"] is True
    assert data["level"] == {"id": 2, "name": "Level 1"}
    assert data["verification"]["previousLevel"]["name"] == "Level 0"
    assert done.err == ""


def test_timeout_exits_4(cli: CLI, manual: Sandbox) -> None:
    user = manual.create_user()
    _finish(cli, manual, user.access_token)
    # 1 s: room for two polls or more when each takes a loaded machine's time.
    args = _watch(manual, user.access_token, "--level", "Level 1", "--timeout", "1.0", *FAST)
    done = cli(*args)
    assert done.code == 6
    assert "kycflow: timeout: level 'Level 1' not granted within 1 s" in done.err
    as_json = cli(*args, "--json")
    assert as_json.code == 6
    data = json.loads(as_json.out)
    assert data["granted"] is False
    assert data["exit_code"] == 6
    assert data["levels_seen"] == ["Level 0"]
    assert data["current_level"] == {"id": 1, "name": "Level 0"}
    assert data["polls"] >= 2


@pytest.mark.parametrize(
    "extra",
    [
        ("--level", "Level 1", "--timeout", "0"),
        ("--level", "Level 1", "--timeout", "-5"),
        ("--level", "Level 1", "--timeout", "soon"),
        ("--level", "Level 1", "--level-id", "2"),
        (),
        ("--level", "Gold", "--known-levels", "Level 0,Level 1"),
        ("--level", "Level 1", "--interval", "5", "--max-interval", "1"),
    ],
)
def test_bad_input_exits_2(cli: CLI, manual: Sandbox, extra: tuple[str, ...]) -> None:
    done = cli(*_watch(manual, "t", *extra))
    assert done.code == 2, done.both
    assert manual.requests("history") == []


def test_unknown_level_lists_the_known_ones(cli: CLI, manual: Sandbox) -> None:
    done = cli(*_watch(manual, "t", "--level", "Gold", "--known-levels", "Level 0,Level 1"))
    assert "unknown level 'Gold'; levels known: Level 0, Level 1" in done.err


def test_a_bad_token_exits_1(cli: CLI, manual: Sandbox) -> None:
    done = cli(*_watch(manual, "not-a-token", "--level", "Level 1", "--timeout", "5", *FAST))
    assert done.code == 1
    assert "401" in done.err


def test_help_documents_the_exit_codes(cli: CLI) -> None:
    done = cli("watch", "--help")
    assert done.code == 0
    assert "6 when --timeout passes" in " ".join(done.out.split())
    assert "6 watch: the level was not granted" in cli("--help").out
