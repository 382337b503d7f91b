"""The sandbox's simulated review: delayed grants, refusals with a reason, admin decisions."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime

import aiohttp
import pytest
from watchkit import client_for, finish_wizard

import kycflow
from kycflow.testing import Review, Sandbox, Scenario, ScenarioError


def _scenario(**review: object) -> Scenario:
    base = Scenario.default()
    return Scenario(
        levels=base.levels,
        steps=base.steps,
        initial_level=base.initial_level,
        review=Review(**review),  # type: ignore[arg-type]
    )


async def test_default_review_grants_at_once() -> None:
    async with Sandbox() as sb:
        user = sb.create_user()
        async with client_for(sb) as client:
            await finish_wizard(client, user.access_token)
        assert sb.level_of(user) == 2
        assert [r.decision for r in sb.review_log(user)] == ["grant"]


async def test_delayed_grant_is_a_new_history_entry_at_its_due_time() -> None:
    # The checks "still under review" (the wizard's tail, one read, a request) must all fall
    # within the delay of the last submit: 2 s, so that a loaded machine's stall cannot make
    # the review due before they are done. Then the test waits for the due time, not longer.
    delay = 2.0
    async with Sandbox(_scenario(delay=delay)) as sb:
        user = sb.create_user()
        async with client_for(sb) as client:
            result = await finish_wizard(client, user.access_token)
            assert sb.level_of(user) == 1  # still under review
            assert len(sb.history(user)) == 1
            view = client.with_auth(kycflow.BearerToken(user.access_token))
            pending = await view.wizard.start()
            assert pending.code == 202
            assert pending.types == []
            completed_at = sb.pending_reviews()[0].completed_at
            due = completed_at + delay
            await asyncio.sleep(max(due - time.time(), 0.0) + 0.05)
            page = await view.verifications.list(sort_order="desc")
        newest = page.data[0]
        assert newest.current_level is not None
        assert newest.current_level.name == "Level 1"
        assert newest.previous_level is not None
        assert newest.previous_level.name == "Level 0"
        assert newest.create_time is not None
        assert abs(newest.create_time.timestamp() - due) <= 1.0  # createTime is to the second
        assert sb.review_log(user)[0].at == pytest.approx(due, abs=1e-3)  # decided at its due time
        assert result.done


async def test_refusal_gives_no_grant_and_the_next_wizard_says_why() -> None:
    async with Sandbox(_scenario(decision="refuse", reason="Selfie is blurred")) as sb:
        user = sb.create_user()
        async with client_for(sb) as client:
            await finish_wizard(client, user.access_token)
            assert sb.level_of(user) == 1
            assert [(r.decision, r.reason) for r in sb.review_log(user)] == [
                ("refuse", "Selfie is blurred")
            ]
            async with aiohttp.ClientSession() as http:
                headers = {"Authorization": f"Bearer {user.access_token}"}
                async with http.get(sb.url("/v2/my/verifications/wizard"), headers=headers) as r:
                    body = await r.json()
        assert body["code"] == 200
        assert body["reason"] == "Selfie is blurred"
        assert len(sb.history(user)) == 1


async def test_refuse_first_then_grant_on_the_second_procedure() -> None:
    async with Sandbox(_scenario(refuse_first=1)) as sb:
        user = sb.create_user()
        async with client_for(sb) as client:
            await finish_wizard(client, user.access_token)
            assert sb.level_of(user) == 1
            await finish_wizard(client, user.access_token)
        assert sb.level_of(user) == 2
        assert [r.decision for r in sb.review_log(user)] == ["refuse", "grant"]


async def test_manual_review_is_decided_by_the_admin_api() -> None:
    async with Sandbox(_scenario(decision="manual")) as sb:
        user, other = sb.create_users(2)
        async with client_for(sb) as client:
            await finish_wizard(client, user.access_token)
        async with aiohttp.ClientSession() as http:
            admin = sb.root_url + "/_sandbox"
            async with http.get(admin + "/reviews") as r:
                listing = await r.json()
            assert [p["email"] for p in listing["pending"]] == [user.email]
            assert listing["pending"][0]["due"] is None
            async with http.post(admin + "/review", json={"email": other.email}) as r:
                assert r.status == 409  # nothing pending for this one
            bad = {"email": user.email, "decision": "x"}
            async with http.post(admin + "/review", json=bad) as r:
                assert r.status == 400
            async with http.post(admin + "/review", json={"email": user.email}) as r:
                assert r.status == 200
                decided = await r.json()
        assert decided["decision"] == "grant"
        assert sb.level_of(user) == 2
        assert datetime.fromisoformat(sb.history(user)[-1]["createTime"]).year >= 2024


async def test_random_delays_are_drawn_in_range_and_seeded() -> None:
    desk_delays = []
    for _ in range(2):
        async with Sandbox(_scenario(delay=10.0, delay_max=20.0, seed=7)) as sb:
            users = sb.create_users(3)
            async with client_for(sb) as client:
                for u in users:
                    await finish_wizard(client, u.access_token)
            delays = [p.due - p.completed_at for p in sb.pending_reviews() if p.due]
        assert len(delays) == 3
        assert all(10.0 <= d <= 20.0 for d in delays)
        desk_delays.append(delays)
    assert desk_delays[0] == pytest.approx(desk_delays[1])


def test_review_options_round_trip_and_are_checked() -> None:
    scenario = _scenario(decision="refuse", delay=3.0, reason="no")
    again = Scenario.from_dict(scenario.to_dict())
    assert again.review == scenario.review
    with pytest.raises(ScenarioError, match="unknown review option"):
        Scenario.from_dict({**scenario.to_dict(), "review": {"dealy": 1}})
    with pytest.raises(ScenarioError, match="decision"):
        Scenario.from_dict({**scenario.to_dict(), "review": {"decision": "maybe"}})
    with pytest.raises(ValueError, match="delay"):
        Review(delay=-1)
