"""BearerToken, SessionAuth refresh (expiry, 401, concurrency) and sign-in."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp import web
from corekit import FakeServer, b64json, envelope, error, make_client, reply, token_data
from structlog.testing import capture_logs

import kycflow
from kycflow import errors as e

WIZARD = "/v2/my/verifications/wizard"
REFRESH = "/v2/my/refresh"


def auth_of(request: web.Request) -> str:
    return request.headers.get("Authorization", "")


def guarded(valid: set[str]) -> Any:
    """A wizard handler that accepts only the given access tokens."""

    async def handler(request: web.Request) -> web.StreamResponse:
        if auth_of(request).removeprefix("Bearer ") not in valid:
            return await error(401, "token expired")(request)
        return await reply(envelope())(request)

    return handler


def refresher(new_access: str, new_refresh: str | None, delay: float = 0.0) -> Any:
    async def handler(request: web.Request) -> web.StreamResponse:
        if delay:
            await asyncio.sleep(delay)
        return await reply(envelope(202, token_data(new_access, new_refresh), done=True))(request)

    return handler


def test_bearer_repr_hides_token() -> None:
    auth = kycflow.BearerToken("very-secret-token")
    assert "very-secret-token" not in repr(auth)
    assert auth.token.get_secret_value() == "very-secret-token"
    with pytest.raises(e.ConfigurationError):
        kycflow.BearerToken("bad\nvalue")


def test_session_repr_hides_tokens() -> None:
    auth = kycflow.SessionAuth("acc-secret", "ref-secret")
    assert "acc-secret" not in repr(auth)
    assert "ref-secret" not in repr(auth)
    assert "acc-secret" not in repr(auth.tokens)


async def test_expired_token_refreshed_once_before_call(server: FakeServer) -> None:
    persisted: list[kycflow.TokenPair] = []

    async def on_refresh(pair: kycflow.TokenPair) -> None:
        persisted.append(pair)

    server.route("GET", WIZARD, guarded({"new-acc"}))
    server.route("POST", REFRESH, refresher("new-acc", None))
    auth = kycflow.SessionAuth(
        "old-acc",
        "old-ref",
        expires_at=datetime.now(UTC) + timedelta(seconds=5),  # within the refresh margin
        on_refresh=on_refresh,
    )
    async with make_client(server.base_url, auth=auth) as c:
        await c.wizard.start()
        await c.wizard.start()
    assert [s.path for s in server.seen] == [REFRESH, WIZARD, WIZARD]
    sent = server.seen[0].json()
    assert sent["refreshToken"] == "old-ref"
    assert b64json(sent["deviceFingerprint"])["user_agent"].startswith("kycflow/")
    assert "Authorization" not in server.seen[0].headers
    assert server.seen[1].headers["Authorization"] == "Bearer new-acc"
    assert len(persisted) == 1
    # The server sent no new refresh token: the old one is kept.
    assert persisted[0].refresh_token is not None
    assert persisted[0].refresh_token.token.get_secret_value() == "old-ref"


async def test_sync_on_refresh_is_called(server: FakeServer) -> None:
    # Every other callback may be sync; a sync on_refresh used to fail with a TypeError
    # (awaiting None), logged as auth.on_refresh_failed, and the tokens were never persisted.
    persisted: list[str] = []

    def on_refresh(pair: kycflow.TokenPair) -> None:
        persisted.append(pair.access_token.token.get_secret_value())

    server.route("GET", WIZARD, guarded({"new-acc"}))
    server.route("POST", REFRESH, refresher("new-acc", "new-ref"))
    auth = kycflow.SessionAuth(
        "old-acc",
        "old-ref",
        expires_at=datetime.now(UTC) + timedelta(seconds=5),
        on_refresh=on_refresh,
    )
    with capture_logs() as logs:
        async with make_client(server.base_url, auth=auth) as c:
            await c.wizard.start()
    assert persisted == ["new-acc"]
    assert not [entry for entry in logs if entry["event"] == "auth.on_refresh_failed"]


async def test_a_failing_on_refresh_is_logged_by_type_and_the_call_goes_on(
    server: FakeServer,
) -> None:
    def on_refresh(pair: kycflow.TokenPair) -> None:
        raise ValueError(f"disk full while saving {pair.access_token.token.get_secret_value()}")

    server.route("GET", WIZARD, guarded({"new-acc"}))
    server.route("POST", REFRESH, refresher("new-acc", "new-ref"))
    auth = kycflow.SessionAuth(
        "old-acc",
        "old-ref",
        expires_at=datetime.now(UTC) + timedelta(seconds=5),
        on_refresh=on_refresh,
    )
    with capture_logs() as logs:
        async with make_client(server.base_url, auth=auth) as c:
            await c.wizard.start()  # refreshed first, then sent with the new token
    assert auth.refresh_count == 1
    failed = [entry for entry in logs if entry["event"] == "auth.on_refresh_failed"]
    assert failed == [
        {"event": "auth.on_refresh_failed", "error_type": "ValueError", "log_level": "warning"}
    ]
    assert "new-acc" not in repr(logs)


async def test_short_lived_token_is_not_refreshed_on_every_call(server: FakeServer) -> None:
    # A 20 s token with the default 30 s margin: without capping the margin at a quarter of
    # the lifetime, every call would find it "about to expire" and refresh first.
    server.route("GET", WIZARD, guarded({"acc", "new-acc"}))
    server.route("POST", REFRESH, refresher("new-acc", None))
    issued = datetime.now(UTC)
    now = [issued]
    auth = kycflow.SessionAuth(
        "acc",
        "ref",
        created_at=issued,
        expires_at=issued + timedelta(seconds=20),
        clock=lambda: now[0],
    )
    async with make_client(server.base_url, auth=auth) as c:
        for _ in range(3):
            await c.wizard.start()
        assert auth.refresh_count == 0
        now[0] = issued + timedelta(seconds=16)  # inside the last quarter of its lifetime
        await c.wizard.start()
    assert auth.refresh_count == 1
    assert [s.path for s in server.seen] == [WIZARD, WIZARD, WIZARD, REFRESH, WIZARD]


async def test_401_triggers_one_refresh_and_one_replay(server: FakeServer) -> None:
    server.route("GET", WIZARD, guarded({"new-acc"}))
    server.route("POST", REFRESH, refresher("new-acc", "new-ref"))
    auth = kycflow.SessionAuth("old-acc", "old-ref")
    async with make_client(server.base_url, auth=auth) as c:
        step = await c.wizard.start()
    assert step.uuid == "wiz-1"
    assert [s.path for s in server.seen] == [WIZARD, REFRESH, WIZARD]
    assert auth.tokens.refresh_token is not None
    assert auth.tokens.refresh_token.token.get_secret_value() == "new-ref"


async def test_401_after_refresh_is_raised(server: FakeServer) -> None:
    server.route("GET", WIZARD, guarded(set()))
    server.route("POST", REFRESH, refresher("new-acc", None))
    async with make_client(server.base_url, auth=kycflow.SessionAuth("a", "r")) as c:
        with pytest.raises(e.AuthenticationError):
            await c.wizard.start()
    assert [s.path for s in server.seen] == [WIZARD, REFRESH, WIZARD]


async def test_rejected_refresh_token(server: FakeServer) -> None:
    server.route("GET", WIZARD, guarded(set()))
    server.route("POST", REFRESH, error(401, "bad refresh token"))
    async with make_client(server.base_url, auth=kycflow.SessionAuth("a", "r")) as c:
        with pytest.raises(e.AuthenticationError):
            await c.wizard.start()


async def test_bearer_401_not_replayed(server: FakeServer, client: kycflow.Client) -> None:
    server.route("GET", WIZARD, guarded(set()))
    with pytest.raises(e.AuthenticationError):
        await client.wizard.start()
    assert len(server.seen) == 1


async def test_fifty_concurrent_calls_one_refresh(server: FakeServer) -> None:
    server.route("GET", WIZARD, guarded({"new-acc"}))
    server.route("POST", REFRESH, refresher("new-acc", "new-ref", delay=0.1))
    auth = kycflow.SessionAuth(
        "old-acc", "old-ref", expires_at=datetime.now(UTC) + timedelta(seconds=1)
    )
    async with make_client(server.base_url, auth=auth) as c:
        steps = await asyncio.gather(*(c.wizard.start() for _ in range(50)))
    assert len(steps) == 50
    assert len(server.requests_to("POST", REFRESH)) == 1
    assert auth.refresh_count == 1


async def test_fifty_concurrent_401s_one_refresh(server: FakeServer) -> None:
    server.route("GET", WIZARD, guarded({"new-acc"}))
    server.route("POST", REFRESH, refresher("new-acc", None, delay=0.05))
    auth = kycflow.SessionAuth("old-acc", "old-ref")
    async with make_client(server.base_url, auth=auth) as c:
        await asyncio.gather(*(c.wizard.start() for _ in range(50)))
    assert len(server.requests_to("POST", REFRESH)) == 1


def signin_routes(server: FakeServer, *, factor: str | None) -> None:
    server.route("GET", "/v2/my/signin/wizard", reply(envelope(200, None, uuid="sig-1")))
    tokens = envelope(202, token_data("acc-1", "ref-1"), done=True, uuid="sig-1")
    if factor is None:
        server.route("POST", "/v2/my/signin", reply(tokens))
    else:
        server.route("POST", "/v2/my/signin", reply(envelope(200, {"type": factor}, uuid="sig-1")))

        async def check_code(request: web.Request) -> web.StreamResponse:
            body = json.loads(await request.read())
            if body != {"uuid": "sig-1", "code": "123456"}:
                return await error(401, "wrong code")(request)
            return await reply(tokens)(request)

        server.route("POST", f"/v2/my/2fa/{factor}", check_code)


async def test_sign_in_without_second_factor(server: FakeServer) -> None:
    signin_routes(server, factor=None)
    server.route("GET", WIZARD, guarded({"acc-1"}))
    async with make_client(server.base_url, auth=None) as c:
        auth = await c.sign_in("a@example.com", "pw-SECRET")
        await c.with_auth(auth).wizard.start()
    body = server.requests_to("POST", "/v2/my/signin")[0].json()
    assert body["uuid"] == "sig-1"
    assert body["email"] == "a@example.com"
    assert body["password"] == "pw-SECRET"
    assert b64json(body["device_fingerprint"])["user_agent"].startswith("kycflow/")
    assert auth.expires_at is not None


@pytest.mark.parametrize("factor", ["google", "sms"])
async def test_sign_in_with_second_factor(server: FakeServer, factor: str) -> None:
    signin_routes(server, factor=factor)
    asked: list[str] = []

    async def second_factor(kind: str) -> str:
        asked.append(kind)
        return "123456"

    async with make_client(server.base_url, auth=None) as c:
        auth = await kycflow.sign_in(c, "a@example.com", "pw", second_factor=second_factor)
    assert asked == [factor]
    assert auth.tokens.access_token.token.get_secret_value() == "acc-1"


async def test_sign_in_second_factor_without_callback(server: FakeServer) -> None:
    signin_routes(server, factor="google")
    async with make_client(server.base_url, auth=None) as c:
        with pytest.raises(e.ConfigurationError, match="second factor"):
            await c.sign_in("a@example.com", "pw")


async def test_sign_in_wrong_password(server: FakeServer) -> None:
    server.route("GET", "/v2/my/signin/wizard", reply(envelope(200, None, uuid="sig-1")))
    server.route("POST", "/v2/my/signin", error(401, "invalid credentials"))
    async with make_client(server.base_url, auth=None) as c:
        with pytest.raises(e.AuthenticationError):
            await c.sign_in("a@example.com", "pw")
    assert len(server.requests_to("POST", "/v2/my/signin")) == 1


async def test_sign_in_429_not_retried(server: FakeServer) -> None:
    server.route("GET", "/v2/my/signin/wizard", reply(envelope(200, None, uuid="sig-1")))
    server.route("POST", "/v2/my/signin", error(429, "locked", **{"Retry-After": "0"}))
    async with make_client(server.base_url, auth=None, max_retries=5) as c:
        with pytest.raises(e.RateLimitError):
            await c.sign_in("a@example.com", "pw")
    assert len(server.requests_to("POST", "/v2/my/signin")) == 1


async def test_sign_in_503_not_retried(server: FakeServer) -> None:
    server.route("GET", "/v2/my/signin/wizard", error(503))
    async with make_client(server.base_url, auth=None, max_retries=5) as c:
        with pytest.raises(e.ServerError):
            await c.sign_in("a@example.com", "pw")
    assert len(server.seen) == 1


async def test_sign_in_bad_factor_kind_refused(server: FakeServer) -> None:
    server.route("GET", "/v2/my/signin/wizard", reply(envelope(200, None, uuid="sig-1")))
    server.route("POST", "/v2/my/signin", reply(envelope(200, {"type": "../../x"})))

    async def second_factor(kind: str) -> str:
        return "1"

    async with make_client(server.base_url, auth=None) as c:
        with pytest.raises(e.ProtocolError):
            await c.sign_in("a@example.com", "pw", second_factor=second_factor)
    assert len(server.seen) == 2
