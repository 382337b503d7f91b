"""``kycflow run``: every exit code, --json, --map, sign-in, and secrets kept out of output."""

from __future__ import annotations

import json
import shutil
import socket
from pathlib import Path

import pytest
from clikit import ASSETS, CLI, Outcome

from kycflow.testing import Sandbox


def run_args(sandbox: Sandbox, documents: Path | str, *extra: str) -> list[str]:
    return ["run", "--base-url", sandbox.base_url, "--documents", str(documents), *extra]


def test_json_result_with_a_token(cli: CLI, sandbox: Sandbox) -> None:
    user = sandbox.create_user()
    done: Outcome = cli(*run_args(sandbox, ASSETS, "--token", user.access_token, "--json"))
    assert done.code == 0, done.err
    result = json.loads(done.out)
    assert result["done"] is True
    assert [s["type_description"] for s in result["steps"]] == [
        "Passport",
        "Selfie",
        "Proof of address",
    ]
    committed = sandbox.submissions(user)
    assert [s.files for s in committed] == [tuple(s["files"]) for s in result["steps"]]
    sandbox.assert_each_step_submitted_once()
    assert user.access_token not in done.both


def test_progress_shows_each_step(cli: CLI, sandbox: Sandbox) -> None:
    user = sandbox.create_user()
    done = cli(*run_args(sandbox, ASSETS, "--token", user.access_token))
    assert done.code == 0, done.err
    for text in ("Passport (2)", "Selfie (3)", "Proof of address (4)", "Verification complete"):
        assert text in done.out
    assert done.out.count("submitted") >= 3


def test_token_from_the_environment(
    cli: CLI, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = sandbox.create_user()
    monkeypatch.setenv("KYCFLOW_TOKEN", user.access_token)
    monkeypatch.setenv("KYCFLOW_BASE_URL", sandbox.base_url)
    done = cli("run", "--documents", str(ASSETS), "--json")
    assert done.code == 0, done.err
    assert len(sandbox.submissions(user)) == 3


def test_sign_in_with_a_second_factor_keeps_secrets_out_of_output(
    cli: CLI, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = sandbox.create_user(password="pw-Very-Secret-42", second_factor="google", code="987654")
    monkeypatch.setenv("KYCFLOW_PASSWORD", user.password)
    done = cli(
        "--verbose",
        *run_args(sandbox, ASSETS, "--email", user.email, "--otp", "987654", "--json"),
    )
    assert done.code == 0, done.err
    assert [r.route for r in sandbox.requests(route="2fa")] == ["2fa"]
    assert len(sandbox.submissions(user)) == 3
    # The tokens the sign-in issued, the password and the code appear nowhere.
    for secret in (user.password, user.access_token, user.refresh_token, "987654"):
        assert secret not in done.both
    assert "wizard.step_submitted" in done.err  # --verbose shows kycflow's log on stderr


def test_missing_second_factor_code_is_a_usage_error(cli: CLI, sandbox: Sandbox) -> None:
    user = sandbox.create_user(password="pw-Another-Secret", second_factor="sms")
    done = cli(*run_args(sandbox, ASSETS, "--email", user.email, "--password", user.password))
    assert done.code == 2
    assert "--otp" in done.err
    assert user.password not in done.both


def test_wrong_password_exits_1_without_echoing_it(cli: CLI, sandbox: Sandbox) -> None:
    user = sandbox.create_user()
    done = cli(
        "--verbose",
        *run_args(sandbox, ASSETS, "--email", user.email, "--password", "Wrong-Password-99"),
    )
    assert done.code == 1
    assert "401" in done.err
    assert "Wrong-Password-99" not in done.both
    assert sandbox.submissions() == []


def test_bad_token_exits_1_and_never_shows_the_token(cli: CLI, sandbox: Sandbox) -> None:
    token = "at_not-a-valid-token-4711"
    for verbose in ([], ["--verbose"]):
        done = cli(*verbose, *run_args(sandbox, ASSETS, "--token", token))
        assert done.code == 1
        assert "401" in done.err
        assert "check the token" in done.err
        assert token not in done.both
    assert len(done.err.splitlines()) > 3  # --verbose adds the detail and traceback


def test_bad_token_with_json_prints_a_json_error(cli: CLI, sandbox: Sandbox) -> None:
    done = cli(*run_args(sandbox, ASSETS, "--token", "at_wrong-token-value", "--json"))
    assert done.code == 1
    document = json.loads(done.out)
    assert document["kind"] == "error"
    assert document["exit_code"] == 1
    assert document["error"]["type"] == "AuthenticationError"
    assert document["error"]["status"] == 401
    assert document["error"]["request_id"]
    # The runner started (a run id) but never reached the wizard.
    assert document["partial"]["uuid"] is None
    assert document["partial"]["steps"] == []
    assert len(done.err.strip().splitlines()) == 1


def test_unreachable_server_exits_1(cli: CLI) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # Nothing listens on the port once the probe is closed.
    done = cli(
        "run",
        "--base-url",
        f"http://127.0.0.1:{port}/api",
        "--token",
        "at_some-token-1234",
        "--retries",
        "0",
        "--documents",
        str(ASSETS),
    )
    assert done.code == 1
    assert done.err.startswith("kycflow: error:")
    assert len(done.err.strip().splitlines()) == 1


def test_missing_document_type_exits_3_and_lists_the_types(
    cli: CLI, sandbox: Sandbox, tmp_path: Path
) -> None:
    shutil.copy(ASSETS / "passport.jpg", tmp_path / "passport.jpg")
    user = sandbox.create_user()
    done = cli(*run_args(sandbox, tmp_path, "--token", user.access_token))
    assert done.code == 3
    assert "Selfie (type 3)" in done.err
    # The step it could do was committed once; nothing was submitted for the missing one.
    assert [s.type for s in sandbox.submissions(user)] == [2]

    shutil.copy(ASSETS / "passport.jpg", tmp_path / "other.jpg")
    fresh = sandbox.create_user()
    again = cli(*run_args(sandbox, tmp_path, "--token", fresh.access_token, "--json"))
    assert again.code == 3
    document = json.loads(again.out)
    assert document["error"]["requested"] == [{"id": 3, "description": "Selfie"}]
    # What the run did before it stopped: the passport step, with its stored file.
    partial = document["partial"]
    assert partial["uuid"] == sandbox.submissions(fresh)[0].uuid
    assert [(s["index"], s["type_id"], s["type_description"]) for s in partial["steps"]] == [
        (1, 2, "Passport")
    ]
    assert partial["steps"][0]["files"] == list(sandbox.submissions(fresh)[0].files)


def test_missing_documents_directory_exits_2(cli: CLI, sandbox: Sandbox, tmp_path: Path) -> None:
    user = sandbox.create_user()
    done = cli(*run_args(sandbox, tmp_path / "nope", "--token", user.access_token))
    assert done.code == 2
    assert "documents directory not found" in done.err
    assert sandbox.requests() == []


def test_a_bad_file_exits_2_before_any_request_for_it(
    cli: CLI, sandbox: Sandbox, tmp_path: Path
) -> None:
    (tmp_path / "passport.jpg").write_bytes(b"this is not a JPEG")
    user = sandbox.create_user()
    done = cli(*run_args(sandbox, tmp_path, "--token", user.access_token))
    assert done.code == 2
    assert "passport.jpg" in done.err
    assert sandbox.uploads() == []
    assert sandbox.submissions() == []


def test_map_assigns_files_to_types(cli: CLI, sandbox: Sandbox, tmp_path: Path) -> None:
    shutil.copy(ASSETS / "id_card.jpg", tmp_path / "front.jpg")
    shutil.copy(ASSETS / "id_card.jpg", tmp_path / "back.jpg")
    shutil.copy(ASSETS / "selfie.jpg", tmp_path / "me.jpg")
    shutil.copy(ASSETS / "proof_of_address.pdf", tmp_path / "bill.pdf")
    user = sandbox.create_user()
    done = cli(
        *run_args(sandbox, tmp_path, "--token", user.access_token, "--json"),
        "--map",
        "ID card=front.jpg,back.jpg",
        "--map",
        "3=me.jpg",
        "--map",
        "proof_of_address=bill.pdf",
    )
    assert done.code == 0, done.err
    committed = sandbox.submissions(user)
    assert [(s.type, len(s.files)) for s in committed] == [(1, 2), (3, 1), (4, 1)]
    # Uploads of one step run concurrently; the submit keeps the mapping's order.
    name_of = {u.path: u.filename for u in sandbox.uploads(user)}
    assert [[name_of[f] for f in s.files] for s in committed] == [
        ["front.jpg", "back.jpg"],
        ["me.jpg"],
        ["bill.pdf"],
    ]


@pytest.mark.parametrize("mapping", ["Passport", "Passport=", "Passport=missing.jpg"])
def test_bad_map_exits_2(cli: CLI, sandbox: Sandbox, mapping: str) -> None:
    user = sandbox.create_user()
    done = cli(*run_args(sandbox, ASSETS, "--token", user.access_token, "--map", mapping))
    assert done.code == 2
    assert "--map" in done.err
    assert sandbox.requests() == []


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--token", "at_tok-1", "--email", "a@b.c", "--password", "pw-1"], "not both"),
        ([], "authenticate with --token"),
        (["--email", "a@b.c"], "needs a password"),
        (["--password", "pw-Lonely-1"], "--password needs --email"),
    ],
)
def test_auth_usage_errors_exit_2(
    cli: CLI, sandbox: Sandbox, extra: list[str], message: str
) -> None:
    done = cli(*run_args(sandbox, ASSETS, *extra))
    assert done.code == 2
    assert message in done.err
    assert "pw-" not in done.both
    assert sandbox.requests() == []
