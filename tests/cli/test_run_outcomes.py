"""``kycflow run`` on the wizard's other endings: no success, an SDK wizard, the server's words."""

from __future__ import annotations

import json

import pytest
from clikit import ASSETS, CLI

from kycflow.cli._output import error_to_dict
from kycflow.errors import OutcomeUnknownError, RateLimitError
from kycflow.testing import DocType, LevelSpec, Quirks, Sandbox, Scenario, Step, run_in_thread
from kycflow.testing.scenario import ERROR_BODIES

LEVELS = (LevelSpec(1, "L0"), LevelSpec(2, "L1"))


def _run(cli: CLI, scenario: Scenario, *extra: str) -> tuple[int, str, str, Sandbox]:
    with run_in_thread(Sandbox(scenario)) as sb:
        user = sb.create_user()
        done = cli(
            "run",
            "--base-url",
            sb.base_url,
            "--documents",
            str(ASSETS),
            "--token",
            user.access_token,
            *extra,
        )
        return done.code, done.out, done.err, sb


@pytest.mark.parametrize("as_json", [False, True])
def test_a_wizard_ended_without_success_exits_4(cli: CLI, as_json: bool) -> None:
    scenario = Scenario(
        levels=LEVELS,
        initial_level=1,
        steps=(Step(types=(DocType(3, "Selfie"),)),),
        quirks=Quirks(final_done=False),
    )
    code, out, err, _ = _run(cli, scenario, *(["--json"] if as_json else []))
    assert code == 4
    assert "the wizard ended without success" in err
    if as_json:
        result = json.loads(out)
        assert (result["done"], result["outcome"]) == (False, "ended_without_success")
        assert len(result["steps"]) == 1


def test_an_sdk_wizard_exits_5_naming_the_workflow(cli: CLI) -> None:
    scenario = Scenario(levels=LEVELS, initial_level=1, steps=(Step(types=(), sdk="SnsWizardSDK"),))
    code, out, err, sb = _run(cli, scenario, "--json")
    assert code == 5
    assert "SnsWizardSDK" in err
    data = json.loads(out)
    assert (data["kind"], data["exit_code"]) == ("error", 5)
    assert data["error"]["type"] == "UnsupportedWizardError"
    assert data["error"]["workflow"].endswith("SnsWizardSDK")
    assert sb.requests(route="upload") == []


@pytest.mark.parametrize("shape", ERROR_BODIES)
def test_the_servers_reason_reaches_the_one_line_error_and_json(cli: CLI, shape: str) -> None:
    # An ID card needs two files; the documents directory has one: the server says so (400).
    scenario = Scenario(
        levels=LEVELS,
        initial_level=1,
        steps=(Step(types=(DocType(1, "ID card", min_files=2),)),),
        quirks=Quirks(error_body=shape),  # type: ignore[arg-type]
    )
    code, out, err, _ = _run(cli, scenario, "--json")
    assert code == 1
    line = [x for x in err.splitlines() if x.startswith("kycflow: error:")]
    assert len(line) == 1
    assert "400" in line[0]
    assert "document type 1 needs 2 files" in line[0]
    data = json.loads(out)["error"]
    assert data["type"] == "BadRequestError"
    assert data["status"] == 400
    assert "document type 1 needs 2 files" in json.dumps(data["details"]) + data["server_message"]


def test_json_error_carries_retry_after() -> None:
    limited = RateLimitError("slow down", status=429, retry_after=30.0, details=[{"issue": "x"}])
    data = error_to_dict(limited)["error"]
    assert (data["retry_after"], data["details"], data["server_message"]) == (
        30.0,
        [{"issue": "x"}],
        "slow down",
    )
    assert "retry after 30 s" in data["message"]
    unknown = OutcomeUnknownError(
        "maybe", cause=limited, method="POST", path="/v2/my/verifications"
    )
    assert error_to_dict(unknown)["error"]["retry_after"] == 30.0
