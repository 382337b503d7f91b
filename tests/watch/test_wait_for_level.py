"""``client.verifications.wait_for_level`` against the sandbox, and its loop on a fake clock."""

from __future__ import annotations

import asyncio
import random
import time
from datetime import UTC, datetime, timedelta

import pytest
from polling import eventually
from watchkit import FakeClock, client_for, finish_wizard

import kycflow
from kycflow.errors import LevelTimeoutError, UnknownLevelError
from kycflow.resources.level_wait import WaitProgress, wait_for_level
from kycflow.resources.levels import LevelRef, PollPolicy
from kycflow.testing import Faults, Review, Sandbox, Scenario

FAST = PollPolicy(initial=0.05, factor=1.5, maximum=0.2, jitter=0.2)


def _scenario(**review: object) -> Scenario:
    base = Scenario.default()
    return Scenario(
        levels=base.levels,
        steps=base.steps,
        initial_level=base.initial_level,
        review=Review(**review),  # type: ignore[arg-type]
    )


@pytest.mark.parametrize("level", ["Level 1", "  level   1 ", 2, kycflow.Level(id=2)])
async def test_returns_the_grant_within_one_interval(level: LevelRef) -> None:
    async with Sandbox(_scenario(decision="manual")) as sb:
        user = sb.create_user()
        async with client_for(sb) as client:
            await finish_wizard(client, user.access_token)
            view = client.with_auth(kycflow.BearerToken(user.access_token))
            before = len(sb.requests("history", user))
            waiting = asyncio.create_task(
                view.verifications.wait_for_level(level, timeout=5, poll=FAST)
            )
            # The review is granted 0.5 s after the first read was answered (the sandbox
            # records a request once answered): that read saw the level before the grant.
            await eventually(lambda: len(sb.requests("history", user)) > before, "a first read")
            await asyncio.sleep(0.5)
            sb.decide(user)
            granted = await waiting
            returned_at = time.time()
        grant_at = sb.review_log(user)[0].at
        assert granted.current_level is not None
        assert granted.current_level.id == 2
        assert granted.id == sb.history(user)[-1]["id"]
        assert returned_at - grant_at <= FAST.maximum + 1.0
        polls = len(sb.requests("history", user)) - before
        # 0.5 s at intervals growing from 0.05 to 0.2: a bounded number of reads.
        assert 2 <= polls <= 12


async def test_a_level_already_granted_is_returned_by_the_first_read() -> None:
    async with Sandbox() as sb:
        user = sb.create_user()
        async with client_for(sb) as client:
            await finish_wizard(client, user.access_token)
            view = client.with_auth(kycflow.BearerToken(user.access_token))
            before = len(sb.requests("history", user))
            initial = await view.verifications.wait_for_level("Level 0", timeout=1, poll=FAST)
            granted = await view.verifications.wait_for_level("Level 1", timeout=1, poll=FAST)
        assert initial.current_level is not None
        assert initial.current_level.name == "Level 0"
        assert granted.current_level is not None
        assert granted.current_level.name == "Level 1"
        assert len(sb.requests("history", user)) - before == 2


async def test_timeout_says_what_it_saw() -> None:
    async with Sandbox(_scenario(decision="manual")) as sb:
        user = sb.create_user()
        async with client_for(sb) as client:
            await finish_wizard(client, user.access_token)
            view = client.with_auth(kycflow.BearerToken(user.access_token))
            started = time.monotonic()
            with pytest.raises(LevelTimeoutError) as caught:
                # 1 s: room for three polls (FAST polls at about 0, 0.05, 0.13, 0.24 s...) when
                # each takes a loaded machine's time.
                await view.verifications.wait_for_level("Level 1", timeout=1.0, poll=FAST)
            elapsed = time.monotonic() - started
    err = caught.value
    assert isinstance(err, kycflow.KycflowError)
    assert isinstance(err, TimeoutError)
    assert 1.0 <= elapsed < 2.5
    assert err.levels_seen == ["Level 0"]
    assert err.polls >= 3
    assert err.last_seen is not None
    assert err.last_seen.current_level.name == "Level 0"
    assert "Level 1" in str(err)
    assert "Level 0" in str(err)
    assert user.access_token not in str(err)


async def test_transient_errors_are_retried_within_the_timeout() -> None:
    faults = Faults().fail_next("history", "5xx", 3, status=503)
    async with Sandbox(_scenario(delay=0.3), faults=faults) as sb:
        user = sb.create_user()
        async with client_for(sb, max_retries=0) as client:
            await finish_wizard(client, user.access_token)
            view = client.with_auth(kycflow.BearerToken(user.access_token))
            granted = await view.verifications.wait_for_level("Level 1", timeout=5, poll=FAST)
        assert granted.current_level is not None
        assert granted.current_level.name == "Level 1"
        assert len(sb.faults_injected("history")) == 3


async def test_a_refused_token_is_not_waited_out() -> None:
    async with Sandbox() as sb:
        async with client_for(sb) as client:
            view = client.with_auth(kycflow.BearerToken("not-a-token"))
            started = time.monotonic()
            with pytest.raises(kycflow.AuthenticationError):
                await view.verifications.wait_for_level("Level 1", timeout=30, poll=FAST)
        assert time.monotonic() - started < 5


@pytest.mark.parametrize("bad", [0, -1, float("nan"), True, "10"])
async def test_a_non_positive_timeout_is_refused(bad: object) -> None:
    async with Sandbox() as sb, client_for(sb) as client:
        with pytest.raises(kycflow.ConfigurationError, match="timeout"):
            await client.verifications.wait_for_level("Level 1", timeout=bad)  # type: ignore[arg-type]
        assert sb.requests("history") == []


async def test_an_unknown_level_name_lists_the_known_levels() -> None:
    async with Sandbox() as sb, client_for(sb) as client:
        with pytest.raises(UnknownLevelError) as caught:
            await client.verifications.wait_for_level(
                "Level 7", timeout=5, known_levels=["Level 0", "Level 1"]
            )
        assert caught.value.known == ["Level 0", "Level 1"]
        assert "Level 0, Level 1" in str(caught.value)
        with pytest.raises(kycflow.ConfigurationError, match="empty"):
            await client.verifications.wait_for_level("  ", timeout=5)
        with pytest.raises(kycflow.ConfigurationError, match="level must be"):
            await client.verifications.wait_for_level(2.5, timeout=5)  # type: ignore[arg-type]


def _page(*levels: tuple[int, str]) -> kycflow.VerificationPage:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    data = [
        {
            "id": 10 + i,
            "currentLevel": {"id": lid, "name": name},
            "createTime": (now + timedelta(seconds=i)).isoformat(),
        }
        for i, (lid, name) in enumerate(levels)
    ]
    data.reverse()  # newest first, as asked
    return kycflow.VerificationPage.model_validate({"total": len(data), "data": data})


async def test_backoff_grows_with_jitter_only_shortening_and_ends_at_the_deadline() -> None:
    clock = FakeClock()
    reads = 0

    async def read(limit: int, offset: int, remaining: float) -> kycflow.VerificationPage:
        nonlocal reads
        reads += 1
        assert remaining <= 100
        return _page((1, "Level 0"))

    progress: list[WaitProgress] = []
    policy = PollPolicy(initial=1, factor=2, maximum=16, jitter=0.25)
    with pytest.raises(LevelTimeoutError):
        await wait_for_level(
            read,
            "Level 1",
            timeout=100,
            poll=policy,
            on_poll=progress.append,
            clock=clock,
            sleep=clock.sleep,
            rng=random.Random(3),
        )
    nominal = [min(16, 2**i) for i in range(len(clock.sleeps))]
    for got, cap in zip(clock.sleeps[:-1], nominal, strict=False):
        assert cap * 0.75 <= got <= cap
    assert clock.now == pytest.approx(100)
    assert reads == len(clock.sleeps) + 1  # a last read at the deadline
    assert progress[-1].next_delay is None
    assert all(p.current_level is not None for p in progress)


async def test_transient_failures_on_a_fake_clock_then_the_grant() -> None:
    clock = FakeClock()
    outcomes: list[object] = [
        kycflow.ServerError("down", status=503),
        kycflow.APIConnectionError("reset"),
        _page((1, "Level 0")),
        _page((1, "Level 0"), (2, "Level 1")),
    ]

    async def read(limit: int, offset: int, remaining: float) -> kycflow.VerificationPage:
        outcome = outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        assert isinstance(outcome, kycflow.VerificationPage)
        return outcome

    errors: list[object] = []
    got = await wait_for_level(
        read,
        "Level 1",
        timeout=60,
        poll=PollPolicy(initial=1, factor=2, maximum=8, jitter=0),
        on_poll=lambda p: errors.append(p.error),
        clock=clock,
        sleep=clock.sleep,
    )
    assert got.id == 11
    assert clock.sleeps == [1, 2, 4]
    assert [type(e).__name__ for e in errors] == ["ServerError", "APIConnectionError", "NoneType"]
