"""``kycflow history``: a rich table or JSON, --limit, and its errors."""

from __future__ import annotations

import json

from clikit import ASSETS, CLI

from kycflow.testing import Sandbox
from kycflow.testing._users import HistoryEntry


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
    assert [v["current_level"]["name"] for v in page["data"]] == ["Level 1", "Level 0"]

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
    assert json.loads(as_json.out)["error"]["status"] == 401


def test_sign_in_for_history(cli: CLI, sandbox: Sandbox) -> None:
    user = sandbox.create_user(password="pw-History-Secret")
    done = cli("history", "--base-url", sandbox.base_url, "--email", user.email,
               "--password", user.password, "--json", "--verbose")  # fmt: skip
    assert done.code == 0, done.err
    assert json.loads(done.out)["total"] == 1
    for secret in (user.password, user.access_token, user.refresh_token):
        assert secret not in done.both


def test_limit_beyond_a_page_is_fetched_in_pages(cli: CLI, sandbox: Sandbox) -> None:
    # --limit 5000 was sent as is; the sandbox (like real servers) caps a page, so the 400
    # came back as exit 1. Now it is fetched in pages of at most 100.
    user = sandbox.create_user()
    for n in range(1, 251):
        # Later than the "created" entry, so that these are the newest.
        user.history.append(HistoryEntry(1000 + n, 1, 0, n, 4_000_000_000.0 + n))
    done = cli(*history_args(sandbox, user.access_token, "--json", "--limit", "5000"))
    assert done.code == 0, done.err
    page = json.loads(done.out)
    assert page["total"] == 251
    assert len(page["data"]) == 251
    assert len({v["id"] for v in page["data"]}) == 251
    assert page["data"][0]["id"] == 1250  # newest first
    assert page["data"][-1]["id"] == 1
    # Three pages of 100, 100 and the last 51 (the sandbox refuses a limit over 1000).
    assert [r.status for r in sandbox.requests(route="history")] == [200, 200, 200]

    some = json.loads(
        cli(*history_args(sandbox, user.access_token, "--json", "--limit", "130")).out
    )
    assert [v["id"] for v in some["data"]] == list(range(1250, 1120, -1))


def test_limit_must_be_at_least_one(cli: CLI, sandbox: Sandbox) -> None:
    for bad, said in (("-5", "must be >= 1, not -5"), ("0", "must be >= 1, not 0"),
                      ("x", "not an integer")):  # fmt: skip
        done = cli(*history_args(sandbox, "at_whatever", "--limit", bad))
        assert done.code == 2
        assert said in done.err
        assert ">= 0" not in done.err
    assert sandbox.requests(route="history") == []
