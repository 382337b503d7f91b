"""``kycflow batch``: a jobs file against a sandbox served from a thread, in-process ``main``."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import structlog

import kycflow
from kycflow.cli import main
from kycflow.cli.batch import format_eta, format_rate
from kycflow.testing import Sandbox, run_in_thread

ASSETS = Path(kycflow.__file__).parent / "assets"


@dataclass
class Outcome:
    code: int
    out: str
    err: str


@pytest.fixture(autouse=True)
def _isolate(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    saved = structlog.get_config()  # main() configures structlog globally
    monkeypatch.delenv("KYCFLOW_BASE_URL", raising=False)
    yield
    structlog.configure(**saved)


@pytest.fixture
def thread_sandbox() -> Iterator[Sandbox]:
    with run_in_thread(Sandbox(throttle_signin=False)) as sb:
        yield sb


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """A jobs directory with ``docs/`` holding every document the default scenario asks for,
    and ``scans/`` holding the same under other names (for ``map``)."""
    docs = tmp_path / "docs"
    docs.mkdir()
    scans = tmp_path / "scans"
    scans.mkdir()
    for name in ("passport.jpg", "selfie.jpg", "proof_of_address.pdf"):
        shutil.copy(ASSETS / name, docs / name)
        shutil.copy(ASSETS / name, scans / f"scan_{name}")
    return tmp_path


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> Outcome:
    capsys.readouterr()
    code = main(list(args))
    captured = capsys.readouterr()
    return Outcome(code, captured.out, captured.err)


def write_jobs(path: Path, lines: list[object]) -> Path:
    path.write_text("\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines) + "\n")
    return path


def test_a_jobs_file_runs_to_an_output_file(
    thread_sandbox: Sandbox,
    workdir: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    users = thread_sandbox.create_users(6)
    monkeypatch.setenv("BATCH_TEST_TOKEN", users[5].access_token)
    lines: list[object] = [
        {"key": u.email, "token": u.access_token, "documents": "docs"} for u in users[:4]
    ]
    lines.append(
        {
            "key": users[4].email,
            "token": users[4].access_token,
            "documents": "scans",
            "map": {
                "Passport": "scan_passport.jpg",
                "3": ["scan_selfie.jpg"],
                "proof of address": "scan_proof_of_address.pdf",
            },
        }
    )
    lines.append("")  # blank lines are skipped
    lines.append({"key": users[5].email, "token_env": "BATCH_TEST_TOKEN", "documents": "docs"})
    jobs = write_jobs(workdir / "jobs.jsonl", lines)
    output = workdir / "results.jsonl"

    outcome = run_cli(
        capsys,
        "batch",
        str(jobs),
        "--base-url",
        thread_sandbox.base_url,
        "--concurrency",
        "3",
        "--output",
        str(output),
    )

    assert outcome.code == 0, outcome.err
    results = [json.loads(line) for line in output.read_text().splitlines()]
    assert sorted(r["key"] for r in results) == sorted(u.email for u in users)
    for r in results:
        assert r["status"] == "complete"
        assert r["error"] is None
        assert r["uuid"]
        assert [s["type_id"] for s in r["steps"]] == [2, 3, 4]
    assert "6 complete, 0 failed" in outcome.err
    thread_sandbox.assert_each_step_submitted_once()
    assert len(thread_sandbox.completed_procedures()) == 6
    mapped = [u.filename for u in thread_sandbox.uploads(users[4])]
    assert sorted(mapped) == ["scan_passport.jpg", "scan_proof_of_address.pdf", "scan_selfie.jpg"]
    everything = output.read_text() + outcome.out + outcome.err
    for user in users:
        assert user.access_token not in everything


def test_failed_jobs_give_exit_1_and_results_on_stdout(
    thread_sandbox: Sandbox, workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    users = thread_sandbox.create_users(3)
    (workdir / "empty").mkdir()
    jobs = write_jobs(
        workdir / "jobs.jsonl",
        [
            {"key": "good-0", "token": users[0].access_token, "documents": "docs"},
            {"key": "bad-token", "token": "at_not_a_real_token", "documents": "docs"},
            {"key": "no-docs", "token": users[1].access_token, "documents": "empty"},
            {"key": "good-2", "token": users[2].access_token, "documents": str(workdir / "docs")},
        ],
    )

    outcome = run_cli(
        capsys, "batch", str(jobs), "--base-url", thread_sandbox.base_url, "--no-progress"
    )

    assert outcome.code == 1
    results = {r["key"]: r for r in map(json.loads, outcome.out.splitlines())}
    assert set(results) == {"good-0", "bad-token", "no-docs", "good-2"}
    assert results["good-0"]["status"] == results["good-2"]["status"] == "complete"
    assert results["bad-token"]["status"] == "failed"
    assert results["bad-token"]["error"]["type"] == "AuthenticationError"
    assert results["no-docs"]["error"]["type"] == "MissingDocumentError"
    assert [t["id"] for t in results["no-docs"]["error"]["requested"]] == [2, 1]
    assert results["no-docs"]["steps"] == []
    assert "2 complete, 2 failed" in outcome.err
    assert "at_not_a_real_token" not in outcome.out + outcome.err


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (['{"key": "a", "token": "tok_x", "documents": "docs"', ""], "line 1: not valid JSON"),
        ([{"key": "a", "token": "tok_x", "documents": "docs", "colour": "red"}], "colour"),
        ([{"token": "tok_x", "documents": "docs"}], "key"),
        ([{"key": "a", "token_env": "KYCFLOW_UNSET_TOKEN_VAR", "documents": "docs"}], "UNSET"),
        (
            [
                {"key": "a", "token": "tok_x", "documents": "docs"},
                {"key": "a", "token": "tok_y", "documents": "docs"},
            ],
            "line 2: key 'a' is repeated",
        ),
        ([""], "no jobs"),
        ([[1, 2]], "JSON object"),
        # A missing documents directory (or mapped file) is found before any API call, and
        # named: it used to fail each job after the API calls, with no path.
        (
            [
                {"key": "a", "token": "tok_x", "documents": "docs"},
                {"key": "b", "token": "tok_x", "documents": "nowhere"},
            ],
            "line 2: documents directory not found: ",
        ),
        (
            [{"key": "a", "token": "tok_x", "documents": "docs", "map": {"2": "gone.jpg"}}],
            "line 1: 'map' names a missing file: ",
        ),
    ],
)
def test_bad_input_exits_2_before_running_anything(
    thread_sandbox: Sandbox,
    workdir: Path,
    capsys: pytest.CaptureFixture[str],
    lines: list[object],
    message: str,
) -> None:
    jobs = write_jobs(workdir / "jobs.jsonl", lines)

    outcome = run_cli(capsys, "batch", str(jobs), "--base-url", thread_sandbox.base_url)

    assert outcome.code == 2
    assert message in outcome.err
    assert thread_sandbox.requests() == []
    assert "tok_x" not in outcome.err


def test_missing_files_and_arguments_exit_2(
    thread_sandbox: Sandbox, workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    jobs = write_jobs(workdir / "jobs.jsonl", [{"key": "a", "token": "t1234", "documents": "docs"}])
    missing = run_cli(capsys, "batch", str(workdir / "none.jsonl"), "--base-url", "https://x")
    assert missing.code == 2
    assert "cannot read the jobs file" in missing.err
    no_url = run_cli(capsys, "batch", str(jobs))
    assert no_url.code == 2
    assert "--base-url" in no_url.err
    bad_output = run_cli(
        capsys,
        "batch",
        str(jobs),
        "--base-url",
        thread_sandbox.base_url,
        "--output",
        str(workdir / "no" / "such" / "dir" / "out.jsonl"),
    )
    assert bad_output.code == 2
    assert "cannot write the output file" in bad_output.err
    assert thread_sandbox.requests() == []
    assert run_cli(capsys, "batch", str(jobs), "--concurrency", "0").code == 2


def test_progress_bar_shows_rate_and_eta(
    thread_sandbox: Sandbox, workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    users = thread_sandbox.create_users(3)
    jobs = write_jobs(
        workdir / "jobs.jsonl",
        [{"key": u.email, "token": u.access_token, "documents": "docs"} for u in users],
    )
    outcome = run_cli(capsys, "batch", str(jobs), "--base-url", thread_sandbox.base_url,
                      "--concurrency", "1")  # fmt: skip
    assert outcome.code == 0, outcome.err
    last_frame = outcome.err.strip().splitlines()[-2]  # then the summary line
    assert "3/3" in last_frame
    assert re.search(r"\d+\.\d/(s|min)  ETA 0:00:00", last_frame), last_frame


def test_rate_and_eta_formats() -> None:
    assert format_rate(None) == "-/s"
    assert format_rate(12.345) == "12.3/s"
    assert format_rate(0.05) == "3.0/min"
    assert format_eta(None) == "-"
    assert format_eta(3725.4) == "1:02:05"
    assert format_eta(0.0) == "0:00:00"
