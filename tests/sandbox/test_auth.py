"""Bearer tokens, sign-in with a second factor, refresh and sign-in throttling."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from typing import Any

import aiohttp
import pytest

from kycflow.models import TokenPair
from kycflow.testing import Sandbox, SigninThrottle

FINGERPRINT = base64.b64encode(json.dumps({"user_agent": "tests"}).encode()).decode()
ROUTES = [
    ("GET", "/v2/my/verifications"),
    ("GET", "/v2/my/verifications/1"),
    ("GET", "/v2/my/verifications/wizard"),
    ("POST", "/v2/my/verifications"),
    ("POST", "/v2/my/files"),
]


async def _call(
    http: aiohttp.ClientSession, sb: Sandbox, method: str, path: str, token: str | None
) -> tuple[int, Any, Any]:
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    async with http.request(method, sb.url(path), headers=headers, json={}) as r:
        return r.status, await r.json(content_type=None), r.headers


@pytest.mark.parametrize(("method", "path"), ROUTES)
async def test_missing_wrong_and_expired_tokens_get_401(
    sb: Sandbox, http: aiohttp.ClientSession, method: str, path: str
) -> None:
    user = sb.create_user()
    for token, issue in (
        (None, "missing"),
        ("at_wrong", "invalid"),
        (user.refresh_token, "invalid"),
    ):
        status, body, headers = await _call(http, sb, method, path, token)
        assert status == 401
        assert issue in body["error"]["details"][0]["issue"]
        assert headers["X-Request-Id"]
        assert user.access_token not in json.dumps(body)
    sb.expire_token(user)
    status, body, _ = await _call(http, sb, method, path, user.access_token)
    assert status == 401
    assert "expired" in body["error"]["details"][0]["issue"]


async def test_access_token_ttl_is_configurable(http: aiohttp.ClientSession) -> None:
    ttl = 1.0  # the first request must land within it, on a loaded machine too
    async with Sandbox(access_token_ttl=ttl) as sb:
        before = time.time()
        user = sb.create_user()
        after = time.time()
        assert before + ttl <= user.access_expires <= after + ttl
        assert (await _call(http, sb, "GET", "/v2/my/verifications", user.access_token))[0] == 200
        await asyncio.sleep(ttl + 0.1)  # a whole lifetime after the 200: expired for certain
        assert (await _call(http, sb, "GET", "/v2/my/verifications", user.access_token))[0] == 401


async def _signin(
    http: aiohttp.ClientSession,
    sb: Sandbox,
    email: str,
    password: str,
    fingerprint: str = FINGERPRINT,
) -> tuple[int, Any, Any]:
    async with http.get(sb.url("/v2/my/signin/wizard")) as r:
        assert r.status == 200
        start = await r.json()
    assert (start["code"], start["data"], start["done"]) == (200, None, False)
    body = {
        "uuid": start["uuid"],
        "email": email,
        "password": password,
        "device_fingerprint": fingerprint,
    }
    async with http.post(sb.url("/v2/my/signin"), json=body) as r:
        return r.status, await r.json(content_type=None), r.headers


async def test_signin_without_second_factor(sb: Sandbox, http: aiohttp.ClientSession) -> None:
    user = sb.create_user("a@x.test", "pw-1")
    old = user.access_token
    status, body, _ = await _signin(http, sb, "a@x.test", "pw-1")
    assert status == 200
    assert (body["code"], body["done"]) == (202, True)
    pair = TokenPair.model_validate(body["data"])
    new = pair.access_token.token.get_secret_value()
    assert new == user.access_token != old
    assert (await _call(http, sb, "GET", "/v2/my/verifications", new))[0] == 200
    assert (await _call(http, sb, "GET", "/v2/my/verifications", old))[0] == 401


async def test_signin_wrong_password_and_bad_fingerprint(
    sb: Sandbox, http: aiohttp.ClientSession
) -> None:
    sb.create_user("a@x.test", "pw-1")
    status, body, _ = await _signin(http, sb, "a@x.test", "nope")
    assert status == 401
    assert "pw-1" not in json.dumps(body)
    assert (await _signin(http, sb, "nobody@x.test", "pw-1"))[0] == 401
    assert (await _signin(http, sb, "a@x.test", "pw-1", fingerprint="!!"))[0] == 400
    async with http.post(
        sb.url("/v2/my/signin"),
        json={
            "uuid": "zz",
            "email": "a@x.test",
            "password": "pw-1",
            "device_fingerprint": FINGERPRINT,
        },
    ) as r:
        assert r.status == 400


@pytest.mark.parametrize("factor", ["google", "sms"])
async def test_signin_with_second_factor(
    sb: Sandbox, http: aiohttp.ClientSession, factor: str
) -> None:
    user = sb.create_user("b@x.test", "pw", second_factor=factor, code="424242")
    status, body, _ = await _signin(http, sb, "b@x.test", "pw")
    assert (status, body["code"], body["data"]) == (200, 200, {"type": factor})
    uuid = body["uuid"]
    other = "sms" if factor == "google" else "google"
    async with http.post(sb.url(f"/v2/my/2fa/{other}"), json={"uuid": uuid, "code": "424242"}) as r:
        assert r.status == 400
    async with http.post(sb.url(f"/v2/my/2fa/{factor}"), json={"uuid": uuid, "code": "1"}) as r:
        assert r.status == 401
    async with http.post(
        sb.url(f"/v2/my/2fa/{factor}"), json={"uuid": uuid, "code": "424242"}
    ) as r:
        assert r.status == 200
        done = await r.json()
    assert done["code"] == 202
    assert done["data"]["accessToken"]["token"] == user.access_token
    # The sign-in is over: its uuid cannot be reused.
    async with http.post(
        sb.url(f"/v2/my/2fa/{factor}"), json={"uuid": uuid, "code": "424242"}
    ) as r:
        assert r.status == 400
    assert [r.route for r in sb.requests(user=user)] == ["signin", "2fa", "2fa", "2fa"]


async def test_refresh_rotates_and_bad_token_is_401(
    sb: Sandbox, http: aiohttp.ClientSession
) -> None:
    user = sb.create_user()
    old_access, old_refresh = user.access_token, user.refresh_token
    body = {"refreshToken": old_refresh, "deviceFingerprint": FINGERPRINT}
    async with http.post(sb.url("/v2/my/refresh"), json=body) as r:
        assert r.status == 200
        reply = await r.json()
    assert reply["code"] == 202
    assert reply["data"]["accessToken"]["token"] == user.access_token != old_access
    assert reply["data"]["refreshToken"]["token"] == user.refresh_token != old_refresh
    async with http.post(sb.url("/v2/my/refresh"), json=body) as r:
        assert r.status == 401
        assert (await r.json())["error"]["details"][0]["issue"]


async def test_state_lists_every_issued_token_and_reset_forgets_them(
    sb: Sandbox, http: aiohttp.ClientSession
) -> None:
    user = sb.create_user()
    first = [user.access_token, user.refresh_token]
    assert sb.state.issued_tokens == first
    body = {"refreshToken": user.refresh_token, "deviceFingerprint": FINGERPRINT}
    async with http.post(sb.url("/v2/my/refresh"), json=body) as r:
        assert r.status == 200
    assert sb.state.issued_tokens == [*first, user.access_token, user.refresh_token]
    assert sb.state.by_access == {user.access_token: user}
    assert sb.state.by_refresh == {user.refresh_token: user}
    sb.reset()
    assert sb.state.issued_tokens == []
    assert sb.state.users == {}
    assert sb.state.by_access == {}


async def test_refresh_may_return_null_refresh_token(http: aiohttp.ClientSession) -> None:
    from kycflow.testing import Quirks, Scenario

    base = Scenario.default()
    scenario = Scenario(
        base.levels,
        base.steps,
        base.initial_level,
        quirks=Quirks(refresh_returns_refresh_token=False),
    )
    async with Sandbox(scenario) as sb:
        user = sb.create_user()
        kept = user.refresh_token
        for _ in range(2):  # the old refresh token stays valid
            body = {"refreshToken": kept, "deviceFingerprint": FINGERPRINT}
            async with http.post(sb.url("/v2/my/refresh"), json=body) as r:
                reply = await r.json()
            assert reply["data"]["refreshToken"] is None
            assert reply["data"]["accessToken"]["token"] == user.access_token


async def test_signin_throttle_blocks_then_recovers(http: aiohttp.ClientSession) -> None:
    # The refused sign-in after the blocking one must land within the block: 2 s leaves room
    # for a loaded machine; the recovery is certain (it is tried a whole block later).
    block = 2.0
    throttle = SigninThrottle(max_attempts=5, window=60.0, block=block)
    async with Sandbox(signin_throttle=throttle) as sb:
        sb.create_user("c@x.test", "pw")
        sb.create_user("d@x.test", "pw")
        statuses = [(await _signin(http, sb, "c@x.test", "bad"))[0] for _ in range(5)]
        assert statuses == [401] * 5
        status, body, headers = await _signin(http, sb, "c@x.test", "pw")
        assert status == 429
        assert int(headers["Retry-After"]) == 2
        assert body["error"]["details"][0]["issue"]
        # Right credentials are refused too while blocked; other emails are unaffected.
        assert (await _signin(http, sb, "c@x.test", "pw"))[0] == 429
        assert (await _signin(http, sb, "d@x.test", "pw"))[0] == 200
        await asyncio.sleep(block + 0.05)
        assert (await _signin(http, sb, "c@x.test", "pw"))[0] == 200


async def test_throttle_can_be_disabled(http: aiohttp.ClientSession) -> None:
    async with Sandbox(throttle_signin=False) as sb:
        sb.create_user("c@x.test", "pw")
        statuses = {(await _signin(http, sb, "c@x.test", "bad"))[0] for _ in range(8)}
        assert statuses == {401}


def test_user_repr_hides_secrets() -> None:
    sb = Sandbox()
    user = sb.create_user("e@x.test", "secret-pw", second_factor="sms", code="987654")
    text = repr(user) + str(user)
    for secret in (user.access_token, user.refresh_token, "secret-pw", "987654"):
        assert secret not in text
    with pytest.raises(ValueError, match="exists"):
        sb.create_user("e@x.test")
    with pytest.raises(ValueError, match="second_factor"):
        sb.create_user(second_factor="pigeon")
