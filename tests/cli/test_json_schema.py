"""Every ``--json`` output, batch result line and ``to_dict()`` validated against the one
schema (``kycflow._schema``), and that schema's keys all documented in docs/cli.md."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import typing
from pathlib import Path
from typing import Any

import pytest
from clikit import ASSETS, CLI
from pydantic import TypeAdapter, ValidationError

import kycflow
from kycflow import _schema
from kycflow._schema import (
    ArqJobResultDict,
    ErrorDocument,
    EventDict,
    JobResultDict,
    VerificationPageDict,
    WizardResultDict,
)
from kycflow.testing import Sandbox

DOCS = Path(__file__).resolve().parents[2] / "docs" / "cli.md"


def valid(shape: Any, data: Any) -> dict[str, Any]:
    """``data`` as ``shape`` says, exactly: no missing key, no extra one, no other type."""
    TypeAdapter(shape).validate_python(data)
    assert data["schema_version"] == 1
    return typing.cast(dict[str, Any], data)


def run_args(sandbox: Sandbox, token: str, documents: Path, *extra: str) -> list[str]:
    return ["run", "--base-url", sandbox.base_url, "--token", token,
            "--documents", str(documents), *extra]  # fmt: skip


def test_the_validator_refuses_other_shapes() -> None:
    good = {"schema_version": 1, "kind": "verification_page", "total": 0, "data": []}
    valid(VerificationPageDict, good)
    for bad in ({**good, "Total": 0}, {k: v for k, v in good.items() if k != "total"},
                {**good, "total": "0"}, {**good, "kind": "page"}):  # fmt: skip
        with pytest.raises(ValidationError):
            TypeAdapter(VerificationPageDict).validate_python(bad)


def test_run_and_history(cli: CLI, sandbox: Sandbox, tmp_path: Path) -> None:
    user = sandbox.create_user()
    ran = cli(*run_args(sandbox, user.access_token, ASSETS, "--json"))
    assert ran.code == 0, ran.err
    result = valid(WizardResultDict, json.loads(ran.out))
    assert result["kind"] == "wizard_result"
    assert [s["index"] for s in result["steps"]] == [1, 2, 3]

    history = cli("history", "--base-url", sandbox.base_url, "--token", user.access_token,
                  "--json")  # fmt: skip
    page = valid(VerificationPageDict, json.loads(history.out))
    assert {"current_level", "previous_level", "create_time"} <= set(page["data"][0])

    # Errors: an HTTP error, a usage error, missing documents (with a partial run).
    bad_token = cli(*run_args(sandbox, "at_wrong-1234", ASSETS, "--json"))
    assert valid(ErrorDocument, json.loads(bad_token.out))["error"]["status"] == 401
    no_dir = cli(*run_args(sandbox, user.access_token, tmp_path / "nope", "--json"))
    assert valid(ErrorDocument, json.loads(no_dir.out))["exit_code"] == 2
    shutil.copy(ASSETS / "passport.jpg", tmp_path / "passport.jpg")
    fresh = sandbox.create_user()
    missing = cli(*run_args(sandbox, fresh.access_token, tmp_path, "--json"))
    document = valid(ErrorDocument, json.loads(missing.out))
    assert document["error"]["requested"]
    assert document["partial"]["steps"]
    history_error = cli("history", "--base-url", sandbox.base_url, "--token", "at_bad-1234",
                        "--json")  # fmt: skip
    valid(ErrorDocument, json.loads(history_error.out))


def test_batch_lines(cli: CLI, sandbox: Sandbox, tmp_path: Path) -> None:
    users = sandbox.create_users(2)
    (tmp_path / "empty").mkdir()
    jobs = tmp_path / "jobs.jsonl"
    jobs.write_text(
        json.dumps({"key": "ok", "token": users[0].access_token, "documents": str(ASSETS)})
        + "\n"
        + json.dumps({"key": "no-docs", "token": users[1].access_token, "documents": "empty"})
        + "\n"
    )
    done = cli("batch", str(jobs), "--base-url", sandbox.base_url, "--no-progress")
    assert done.code == 1, done.err
    lines = {r["key"]: valid(JobResultDict, r) for r in map(json.loads, done.out.splitlines())}
    assert lines["ok"]["status"] == "complete"
    assert lines["ok"]["steps"][0]["type_description"] == "Passport"
    assert lines["no-docs"]["error"]["type"] == "MissingDocumentError"


def test_to_dict_of_results_and_events(sandbox: Sandbox) -> None:
    user = sandbox.create_user()
    events: list[kycflow.WizardEvent] = []

    async def go() -> list[kycflow.BatchResult]:
        async with kycflow.Client(sandbox.base_url) as client:
            job = kycflow.BatchJob(
                key="k", auth=kycflow.BearerToken(user.access_token),
                provider=kycflow.DirectoryProvider(ASSETS),
            )  # fmt: skip
            return await kycflow.run_many(
                [job], client=client, on_event=lambda key, event: events.append(event)
            )

    [batch_result] = asyncio.run(go())
    assert batch_result.result is not None
    wizard = valid(WizardResultDict, json.loads(json.dumps(batch_result.result.to_dict())))
    job = valid(JobResultDict, json.loads(json.dumps(batch_result.to_dict())))
    assert job["steps"] == wizard["steps"]
    assert job["index"] == 0
    kinds = {type(e).__name__ for e in events}
    assert {"StepStarted", "FileUploaded", "StepSubmitted", "Completed"} <= kinds
    for event in events:
        data = valid(EventDict, json.loads(json.dumps(event.to_dict())))
        assert data["event"] == event.name
        assert all(re.fullmatch("[a-z_]+", key) for key in data)


def _shapes() -> list[type]:
    return [
        getattr(_schema, name)
        for name in _schema.__all__
        if name.endswith(("Dict", "Document")) and isinstance(getattr(_schema, name), type)
    ]


def test_every_key_is_snake_case_and_documented() -> None:
    text = DOCS.read_text(encoding="utf-8")
    section = text[text.index("## JSON output") :]
    assert f"schema_version: {_schema.JSON_SCHEMA_VERSION}" in section.replace('"', "")
    shapes = _shapes()
    assert ArqJobResultDict in shapes
    for shape in shapes:
        for key in typing.get_type_hints(shape):
            assert re.fullmatch("[a-z_]+", key), (shape, key)
            documented = f"`{key}`" in section or f'"{key}"' in section
            assert documented, f"{shape.__name__}.{key} is not in docs/cli.md"
        kind = typing.get_type_hints(shape).get("kind")
        if kind is not None:
            (value,) = typing.get_args(kind)
            assert f"`{value}`" in section, value
