"""The level watcher's polls and grants reach the metrics (``kycflow.watcher.*``)."""

from __future__ import annotations

import asyncio
from typing import Any

from polling import eventually

import kycflow
from kycflow.testing import LevelSpec, Review, Sandbox, Scenario
from kycflow.watch import LevelWatcher, PollPolicy

JPEG = b"\xff\xd8\xff\xe0" + b"\x00\x10JFIF\x00" + bytes(range(256)) * 8
PDF = b"%PDF-1.4\n" + b"0" * 2000 + b"\n%%EOF\n"
PROVIDER = kycflow.MemoryProvider({2: JPEG, 1: [JPEG, JPEG], 3: JPEG, 4: ("address.pdf", PDF)})
FAST = PollPolicy(initial=0.05, factor=1.5, maximum=0.2, jitter=0.2)


async def test_watcher_polls_and_grants_are_counted(otel: Any) -> None:
    scenario = Scenario(
        levels=(LevelSpec(1, "Level 0"), LevelSpec(2, "Level 1")),
        steps=Scenario.default().steps,
        initial_level=1,
        review=Review(decision="manual"),
    )
    async with Sandbox(scenario) as sb:
        users = sb.create_users(3)
        async with kycflow.Client(sb.base_url) as client:
            for user in users:
                view = client.with_auth(kycflow.BearerToken(user.access_token))
                await kycflow.WizardRunner(view, PROVIDER).run()
            granted: list[object] = []
            watcher = LevelWatcher(client, poll=FAST, max_rps=200, on_grant=granted.append)
            async with watcher:
                for user in users:
                    watcher.add(user.email, kycflow.BearerToken(user.access_token), level="Level 1")
                await eventually(  # each user polled once before its grant
                    lambda: all(sb.requests("history", u) for u in users), "the first polls"
                )
                for user in users:
                    sb.decide(user)
                await asyncio.wait_for(watcher.join(), 10)
    assert len(granted) == 3
    points = otel.metrics()
    grants = {tuple(p.attributes.items()): p.value for p in points["kycflow.watcher.grants"]}
    assert grants == {(("kycflow.level", "Level 1"),): 3}
    polls = {
        dict(p.attributes)["kycflow.watcher.outcome"]: p.value
        for p in points["kycflow.watcher.polls"]
    }
    # Each user was polled until the review (0.3 s after its wizard) granted the level, with
    # the fast policy several times; none of those reads failed.
    assert set(polls) == {"ok"}
    assert polls["ok"] >= 2 * len(users)
    # Level names are not secrets; no email or token is among the metric attributes.
    text = repr([p.attributes for values in points.values() for p in values])
    assert all(u.email not in text and u.access_token not in text for u in users)
