"""``kycflow history``: a rich table or JSON, --limit, and its errors."""

from __future__ import annotations

import json

from clikit import ASSETS, CLI

from kycflow.testing import Sandbox


def history_args(sandbox: Sandbox, token: str, *extra: str) -> list[str]:
    return ["history", "--base-url", sandbox.base_url, "--token", token, *extra]


def test_table_after_a_verification(cli: CLI, sandbox: Sandbox) -> None:
    user = sandbox.create_user()
    ran = cli("run", "--base-url", sandbox.base_url, "--token", user.access_token,
              "--documents", str(ASSETS), "--json")  # fmt: skip
    assert ran.code == 0, ran.err
    done = cli(*history_args(sandbox, user.access_token))
    assert done.code == 0, done.err
    assert "Verification history" in done.out
    rows = [line for line in done.out.splitlines() if "Level" in line and "│" in line]
    assert len(rows) == 2
    assert "Level 1" in rows[0]
    assert "Application: 1" in rows[0]
    assert "created" in rows[1]


def test_json_and_limit(cli: CLI, sandbox: Sandbox) -> None:
    user = sandbox.create_user()
    cli("run", "--base-url", sandbox.base_url, "--token", user.access_token,
        "--documents", str(ASSETS), "--json")  # fmt: skip
    done = cli(*history_args(sandbox, user.access_token, "--json"))
    assert done.code == 0, done.err
    page = json.loads(done.out)
    assert page["total"] == 2
    assert [v["currentLevel"]["name"] for v in page["data"]] == ["Level 1", "Level 0"]

    one = json.loads(cli(*history_args(sandbox, user.access_token, "--json", "--limit", "1")).out)
    assert one["total"] == 2
    assert len(one["data"]) == 1
    assert sandbox.requests(route="history")[-1].status == 200


def test_bad_token_exits_1(cli: CLI, sandbox: Sandbox) -> None:
    token = "at_forged-token-0000"
    done = cli("--verbose", *history_args(sandbox, token))
    assert done.code == 1
    assert token not in done.both
    assert "401" in done.err
    as_json = cli(*history_args(sandbox, token, "--json"))
    assert as_json.code == 1
    assert json.loads(as_json.out)["status"] == 401


def test_sign_in_for_history(cli: CLI, sandbox: Sandbox) -> None:
    user = sandbox.create_user(password="pw-History-Secret")
    done = cli("history", "--base-url", sandbox.base_url, "--email", user.email,
               "--password", user.password, "--json", "--verbose")  # fmt: skip
    assert done.code == 0, done.err
    assert json.loads(done.out)["total"] == 1
    for secret in (user.password, user.access_token, user.refresh_token):
        assert secret not in done.both
