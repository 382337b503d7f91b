"""Every fault kind as a raw aiohttp client sees it, and the determinism of the decisions."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from kycflow.testing import Fault, FaultKind, Faults, Sandbox

JPEG = b"\xff\xd8\xff\xe0" + b"j" * 2000
RESET_ERRORS = (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError)


@pytest.fixture
async def fresh() -> AsyncIterator[aiohttp.ClientSession]:
    # One connection per request: aiohttp retries an idempotent request once when a pooled
    # connection drops, which would hide a reset.
    connector = aiohttp.TCPConnector(force_close=True)
    async with aiohttp.ClientSession(
        connector=connector, timeout=aiohttp.ClientTimeout(total=10)
    ) as session:
        yield session


def _auth(sb: Sandbox, email: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {sb.user(email).access_token}"}


async def _status(
    http: aiohttp.ClientSession, sb: Sandbox, email: str, path: str = "/v2/my/verifications"
) -> tuple[int, str, Any]:
    async with http.get(sb.url(path), headers=_auth(sb, email)) as r:
        return r.status, await r.text(), r.headers


async def test_server_error(fresh: aiohttp.ClientSession) -> None:
    faults = Faults().fail_next("history", "5xx", status=503).fail_next("history", "5xx")
    async with Sandbox(faults=faults) as sb:
        sb.create_user("a@x.test")
        status, text, headers = await _status(fresh, sb, "a@x.test")
        assert status == 503
        assert json.loads(text)["error"]["details"][0]["issue"]
        assert headers["X-Request-Id"]
        assert (await _status(fresh, sb, "a@x.test"))[0] == 500
        assert (await _status(fresh, sb, "a@x.test"))[0] == 200
        assert [r.fault for r in sb.faults_injected()] == ["5xx", "5xx"]
        assert [r.status for r in sb.faults_injected("history", FaultKind.SERVER_ERROR)] == [
            503,
            500,
        ]


@pytest.mark.parametrize("retry_after", [0.0, 2.0])
async def test_rate_limit_with_retry_after(
    fresh: aiohttp.ClientSession, retry_after: float
) -> None:
    faults = Faults(retry_after=retry_after).fail_next("wizard", FaultKind.RATE_LIMIT)
    async with Sandbox(faults=faults) as sb:
        sb.create_user("a@x.test")
        status, text, headers = await _status(fresh, sb, "a@x.test", "/v2/my/verifications/wizard")
        assert status == 429
        assert headers["Retry-After"] == str(int(retry_after))
        assert json.loads(text)["error"]["message"]
        assert (await _status(fresh, sb, "a@x.test", "/v2/my/verifications/wizard"))[0] == 200


async def _open_step(http: aiohttp.ClientSession, sb: Sandbox, email: str) -> tuple[str, str]:
    async with http.get(sb.url("/v2/my/verifications/wizard"), headers=_auth(sb, email)) as r:
        uuid = (await r.json())["uuid"]
    form = aiohttp.FormData()
    form.add_field("file", JPEG, filename="p.jpg", content_type="image/jpeg")
    async with http.post(sb.url("/v2/my/files"), data=form, headers=_auth(sb, email)) as r:
        path = (await r.json())["data"]["file"]
    return uuid, path


async def _submit(
    http: aiohttp.ClientSession, sb: Sandbox, email: str, uuid: str, path: str
) -> int:
    body = {"data": {"documents": {"type": 2, "files": [path]}, "uuid": uuid}}
    async with http.post(sb.url("/v2/my/verifications"), json=body, headers=_auth(sb, email)) as r:
        await r.read()
        return r.status


async def test_reset_before_commit(fresh: aiohttp.ClientSession) -> None:
    async with Sandbox(faults=Faults().fail_next("submit", "reset_before")) as sb:
        sb.create_user("a@x.test")
        uuid, path = await _open_step(fresh, sb, "a@x.test")
        with pytest.raises(RESET_ERRORS):
            await _submit(fresh, sb, "a@x.test", uuid, path)
        assert sb.submissions() == []
        (record,) = sb.requests(route="submit")
        assert (record.status, record.fault) == (None, "reset_before")
        assert await _submit(fresh, sb, "a@x.test", uuid, path) == 200
        assert len(sb.submissions()) == 1


async def test_reset_after_commit_then_retry_is_duplicate(fresh: aiohttp.ClientSession) -> None:
    async with Sandbox(faults=Faults().fail_next("submit", "reset_after")) as sb:
        sb.create_user("a@x.test")
        uuid, path = await _open_step(fresh, sb, "a@x.test")
        with pytest.raises(RESET_ERRORS):
            await _submit(fresh, sb, "a@x.test", uuid, path)
        assert len(sb.submissions()) == 1  # the server committed before the reset
        assert await _submit(fresh, sb, "a@x.test", uuid, path) == 409
        assert len(sb.duplicates()) == 1
        # The wizard shows the step after the committed one.
        async with fresh.get(
            sb.url("/v2/my/verifications/wizard"), headers=_auth(sb, "a@x.test")
        ) as r:
            assert [t["id"] for t in (await r.json())["data"]["types"]] == [3]


async def test_reset_after_upload_stores_it(fresh: aiohttp.ClientSession) -> None:
    async with Sandbox(faults=Faults().fail_next("upload", "reset_after")) as sb:
        sb.create_user("a@x.test")
        form = aiohttp.FormData()
        form.add_field("file", JPEG, filename="p.jpg", content_type="image/jpeg")
        with pytest.raises(RESET_ERRORS):
            async with fresh.post(
                sb.url("/v2/my/files"), data=form, headers=_auth(sb, "a@x.test")
            ) as r:
                await r.read()
        assert len(sb.uploads()) == 1


async def test_reset_before_upload_stores_nothing(fresh: aiohttp.ClientSession) -> None:
    async with Sandbox(faults=Faults().fail_next("upload", "reset_before")) as sb:
        sb.create_user("a@x.test")
        form = aiohttp.FormData()
        form.add_field("file", JPEG * 50, filename="p.jpg", content_type="image/jpeg")
        with pytest.raises(RESET_ERRORS):
            async with fresh.post(
                sb.url("/v2/my/files"), data=form, headers=_auth(sb, "a@x.test")
            ) as r:
                await r.read()
        assert sb.uploads() == []


async def test_slow_reply(fresh: aiohttp.ClientSession) -> None:
    faults = Faults(slow_delay=0.3).fail_next("history", "slow", 2)
    async with Sandbox(faults=faults) as sb:
        sb.create_user("a@x.test")
        started = time.monotonic()
        assert (await _status(fresh, sb, "a@x.test"))[0] == 200
        assert time.monotonic() - started >= 0.3
        with pytest.raises(asyncio.TimeoutError):
            async with fresh.get(
                sb.url("/v2/my/verifications"),
                headers=_auth(sb, "a@x.test"),
                timeout=aiohttp.ClientTimeout(total=0.1),
            ) as r:
                await r.read()


async def test_malformed_json_after_commit(fresh: aiohttp.ClientSession) -> None:
    async with Sandbox(faults=Faults().fail_next("submit", "malformed_json")) as sb:
        sb.create_user("a@x.test")
        uuid, path = await _open_step(fresh, sb, "a@x.test")
        body = {"data": {"documents": {"type": 2, "files": [path]}, "uuid": uuid}}
        async with fresh.post(
            sb.url("/v2/my/verifications"), json=body, headers=_auth(sb, "a@x.test")
        ) as r:
            assert r.status == 200
            assert r.content_type == "application/json"
            text = await r.text()
        with pytest.raises(json.JSONDecodeError):
            json.loads(text)
        assert len(sb.submissions()) == 1


async def test_html_error_page(fresh: aiohttp.ClientSession) -> None:
    async with Sandbox(faults=Faults().fail_next("details", "html")) as sb:
        user = sb.create_user("a@x.test")
        vid = sb.history(user)[0]["id"]
        async with fresh.get(
            sb.url(f"/v2/my/verifications/{vid}"), headers=_auth(sb, "a@x.test")
        ) as r:
            assert r.status == 502
            assert r.content_type == "text/html"
            assert "<html>" in await r.text()
            assert r.headers["X-Request-Id"]


async def test_fail_next_for_one_user(fresh: aiohttp.ClientSession) -> None:
    faults = Faults().fail_next("history", "5xx", 2, user="b@x.test", status=502)
    async with Sandbox(faults=faults) as sb:
        sb.create_user("a@x.test")
        sb.create_user("b@x.test")
        assert (await _status(fresh, sb, "a@x.test"))[0] == 200
        assert (await _status(fresh, sb, "b@x.test"))[0] == 502
        assert (await _status(fresh, sb, "a@x.test"))[0] == 200
        assert (await _status(fresh, sb, "b@x.test"))[0] == 502
        assert (await _status(fresh, sb, "b@x.test"))[0] == 200


async def test_window_by_requests_and_seconds(fresh: aiohttp.ClientSession) -> None:
    async with Sandbox(faults=Faults().add_window("429", requests=3)) as sb:
        sb.create_user("a@x.test")
        statuses = [(await _status(fresh, sb, "a@x.test"))[0] for _ in range(5)]
        assert statuses == [429, 429, 429, 200, 200]
    async with Sandbox(
        faults=Faults().add_window(
            "503" if False else "5xx", route="history", seconds=0.3, status=503
        )
    ) as sb:
        sb.create_user("a@x.test")
        assert (await _status(fresh, sb, "a@x.test"))[0] == 503
        assert (await _status(fresh, sb, "a@x.test", "/v2/my/verifications/wizard"))[0] == 200
        await asyncio.sleep(0.35)
        assert (await _status(fresh, sb, "a@x.test"))[0] == 200


async def _run_pattern(
    seed: int, order: list[int]
) -> dict[str, list[tuple[str | None, int | None]]]:
    """Six users each make 15 history and 5 wizard calls; users interleave in ``order``."""
    faults = Faults(
        seed=seed,
        rates={"history": {"5xx": 0.2, "429": 0.1, "html": 0.1}, "wizard": {"malformed_json": 0.3}},
        retry_after=0,
    )
    async with Sandbox(faults=faults) as sb, aiohttp.ClientSession() as http:
        emails = [sb.create_user(f"u{i}@x.test").email for i in range(6)]

        async def flow(email: str) -> None:
            for i in range(20):
                path = "/v2/my/verifications/wizard" if i % 4 == 3 else "/v2/my/verifications"
                await _status(http, sb, email, path)
                await asyncio.sleep(0)

        await asyncio.gather(*(flow(emails[i]) for i in order))
        return {e: [(r.fault, r.status) for r in sb.requests(user=e)] for e in emails}


async def test_faults_are_deterministic_for_a_seed() -> None:
    first = await _run_pattern(7, [0, 1, 2, 3, 4, 5])
    second = await _run_pattern(7, [5, 3, 1, 0, 2, 4])
    assert first == second
    assert sum(f is not None for seq in first.values() for f, _ in seq) > 10
    other = await _run_pattern(8, [0, 1, 2, 3, 4, 5])
    assert other != first


def test_decide_is_a_pure_function_of_seed_route_user_n() -> None:
    a = Faults(seed=1, rates={"*": {"5xx": 0.5}})
    b = Faults(seed=1, rates={"*": {"5xx": 0.5}})
    keys = [
        (route, f"u{u}", n) for route in ("history", "submit") for u in range(5) for n in range(40)
    ]
    decided = [a.decide(*k) for k in keys]
    assert decided == [b.decide(*k) for k in reversed(keys)][::-1]
    hits = [d for d in decided if d is not None]
    assert 0.35 < len(hits) / len(keys) < 0.65
    assert {d.status for d in hits} == {500, 502, 503, 504}
    assert all(d.kind is FaultKind.SERVER_ERROR for d in hits)
    c = Faults(seed=2, rates={"*": {"5xx": 0.5}})
    assert decided != [c.decide(*k) for k in keys]


def test_route_rates_override_the_wildcard_and_validate() -> None:
    faults = Faults(rates={"*": {"5xx": 1.0}, "submit": {"5xx": 0.0}})
    assert faults.decide("history", "u", 0) == Fault(
        FaultKind.SERVER_ERROR, faults.decide("history", "u", 0).status
    )  # type: ignore[union-attr]
    assert faults.decide("submit", "u", 0) is None
    with pytest.raises(ValueError, match="sum"):
        Faults(rates={"submit": {"5xx": 0.7, "429": 0.5}})
    with pytest.raises(ValueError, match="unknown fault kind"):
        Faults(rates={"submit": {"teapot": 0.1}})  # type: ignore[dict-item]
    uniform = Faults.uniform(1.0, seed=3, kinds=["429", "html"])
    assert {uniform.decide("x", "u", n).kind for n in range(50)} == {  # type: ignore[union-attr]
        FaultKind.RATE_LIMIT,
        FaultKind.HTML_ERROR,
    }


def test_faults_round_trip_through_dicts() -> None:
    faults = Faults(seed=5, rates={"submit": {"reset_after": 0.25}}, retry_after=0, slow_delay=0.1)
    faults.fail_next("upload", "reset_before", 2, user="a@x.test")
    faults.add_window("429", route="signin", requests=4)
    again = Faults.from_dict(json.loads(json.dumps(faults.to_dict())))
    assert again.to_dict() == faults.to_dict()
    assert [again.decide("upload", "a@x.test", n) for n in range(3)] == [
        Fault(FaultKind.RESET_BEFORE),
        Fault(FaultKind.RESET_BEFORE),
        None,
    ]
