"""The admin API, scenario files, and the sandbox served as a separate process."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from kycflow.testing import Sandbox, Scenario, ScenarioError

JPEG = b"\xff\xd8\xff\xe0" + b"j" * 2000


async def test_admin_users_records_faults_reset(
    sb: Sandbox, http: aiohttp.ClientSession, api: Any
) -> None:
    root = sb.root_url + "/_sandbox"
    async with http.post(root + "/users", json={"count": 3}) as r:
        assert r.status == 201
        users = (await r.json())["users"]
    assert len(users) == 3
    assert len({u["email"] for u in users}) == 3
    async with http.post(
        root + "/users", json={"email": "z@x.test", "second_factor": "sms", "code": "111111"}
    ) as r:
        (z,) = (await r.json())["users"]
    assert (z["email"], z["second_factor"], z["code"]) == ("z@x.test", "sms", "111111")
    async with http.post(root + "/users", json={"count": 0}) as r:
        assert r.status == 400

    me = api(sb, sb.user(users[0]["email"]))
    assert me.user.access_token == users[0]["access_token"]
    await me.complete()

    async with http.post(
        root + "/faults", json={"fail_next": [{"route": "history", "kind": "5xx", "n": 1}]}
    ) as r:
        assert r.status == 200
    assert (await me.get("/v2/my/verifications"))[0] in (500, 502, 503, 504)
    async with http.post(root + "/faults", json={"rates": {"x": {"bad": 1}}}) as r:
        assert r.status == 400

    async with http.get(root + "/records") as r:
        records = await r.json()
    assert [s["step"] for s in records["submissions"]] == [0, 1, 2]
    assert records["submissions"][-1]["completed"] is True
    assert records["duplicates"] == []
    assert len(records["uploads"]) == 3
    assert records["requests"]["by_route"]["submit"] == 3
    assert records["faults"] == [{"route": "history", "kind": "5xx", "count": 1}]
    assert records["problems"] == []
    assert "log" not in records["requests"]
    async with http.get(root + "/records", params={"requests": "1"}) as r:
        assert len((await r.json())["requests"]["log"]) == records["requests"]["total"]

    async with http.post(root + "/expire", json={"email": users[1]["email"]}) as r:
        assert r.status == 200
    assert (await api(sb, sb.user(users[1]["email"])).get("/v2/my/verifications"))[0] == 401

    async with http.get(root + "/scenario") as r:
        assert Scenario.from_dict(await r.json()) == sb.scenario

    async with http.post(root + "/reset") as r:
        assert r.status == 200
    assert sb.users == []
    assert sb.submissions() == []
    assert (await me.get("/v2/my/verifications"))[0] == 401


async def test_admin_is_off_unless_loopback() -> None:
    sb = Sandbox(host="0.0.0.0")
    assert sb.admin is False
    assert not any(r.name and r.name.startswith("admin") for r in sb.app.router.routes())


def test_scenario_json_and_toml_files(tmp_path: Path) -> None:
    default = Scenario.default()
    json_file = tmp_path / "s.json"
    json_file.write_text(json.dumps(default.to_dict()))
    assert Scenario.load(json_file) == default
    toml_file = tmp_path / "s.toml"
    toml_file.write_text(
        """
initial_level = 10
final_workflow = "Done"

[[levels]]
id = 10
name = "Basic"

[[levels]]
id = 11
name = "Full"

[[steps]]
name = "Identity"
stall = false
data_shape = "reference"

[[steps.types]]
id = 2
description = "Passport"

[[steps.types]]
id = 5
description = "Driving licence"
enabled = false

[quirks]
previous_level_key = "previuosLevel"
user_id_as_string = true
"""
    )
    scenario = Scenario.load(toml_file)
    assert [lv.name for lv in scenario.levels] == ["Basic", "Full"]
    assert scenario.final_workflow == "Done"
    assert [(t.id, t.enabled) for t in scenario.steps[0].types] == [(2, True), (5, False)]
    assert scenario.steps[0].data_shape == "reference"
    assert scenario.quirks.previous_level_key == "previuosLevel"
    assert scenario.quirks.user_id_as_string is True


@pytest.mark.parametrize(
    "data",
    [
        {"levels": [], "steps": []},
        {"levels": [{"id": 1, "name": "a"}], "steps": [], "initial_level": 1},
        {"levels": [{"id": 1, "name": "a"}], "steps": [{"types": []}]},
        {"levels": [{"id": 1, "name": "a"}], "initial_level": 2, "steps": [{"types": [{"id": 1}]}]},
        {"levels": [{"id": 1, "name": "a"}], "steps": [{"types": [{"id": 1, "enabled": False}]}]},
        {
            "levels": [{"id": 1, "name": "a"}],
            "steps": [{"types": [{"id": 1}]}],
            "quirks": {"wizard_data": "xml"},
        },
        {
            "levels": [{"id": 1, "name": "a"}],
            "steps": [{"types": [{"id": 1}]}],
            "quirks": {"nonsense": True},
        },
        {"steps": []},
    ],
)
def test_invalid_scenarios_raise_scenario_error(data: dict[str, Any]) -> None:
    with pytest.raises(ScenarioError):
        Scenario.from_dict(data)


def test_unreadable_scenario_files(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="cannot read"):
        Scenario.load(tmp_path / "missing.json")
    bad = tmp_path / "bad.toml"
    bad.write_text("levels = [")
    with pytest.raises(ScenarioError, match="cannot parse"):
        Scenario.load(bad)


async def _spawn(*args: str) -> tuple[asyncio.subprocess.Process, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "kycflow.testing",
        "--port",
        "0",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None
    line = (await asyncio.wait_for(proc.stdout.readline(), 20)).decode()
    assert "listening on http://127.0.0.1:" in line, line
    return proc, line.rsplit(" ", 1)[1].strip()


async def test_served_in_a_subprocess(tmp_path: Path, http: aiohttp.ClientSession) -> None:
    scenario_file = tmp_path / "s.json"
    scenario_file.write_text(json.dumps(Scenario.default().to_dict()))
    proc, base_url = await _spawn("--scenario", str(scenario_file), "--seed", "3")
    try:
        root = base_url.removesuffix("/api")
        async with http.post(root + "/_sandbox/users", json={}) as r:
            (user,) = (await r.json())["users"]
        auth = {"Authorization": f"Bearer {user['access_token']}"}
        async with http.get(base_url + "/v2/my/verifications/wizard", headers=auth) as r:
            assert r.status == 200
            assert r.headers["X-Request-Id"]
            assert [t["id"] for t in (await r.json())["data"]["types"]] == [2, 1]
        async with http.get(root + "/_sandbox/faults") as r:
            assert (await r.json())["seed"] == 3
    finally:
        proc.terminate()
        assert await asyncio.wait_for(proc.wait(), 10) == 0


async def test_bad_scenario_file_exits_nonzero(tmp_path: Path) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "kycflow.testing",
        "--port",
        "0",
        "--scenario",
        str(tmp_path / "missing.toml"),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(proc.communicate(), 20)
    assert proc.returncode == 2
    assert b"cannot read scenario file" in err
