"""Session ownership, views over one pool, User-Agent, and secrets kept out of logs."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest
import structlog
from corekit import JPEG, TOKEN, FakeServer, envelope, error, make_client, reply, token_data

import kycflow
from kycflow import errors as e

WIZARD = "/v2/my/verifications/wizard"


def test_construct_outside_loop_opens_nothing() -> None:
    client = kycflow.Client("https://api.example.com/api")
    assert not client.transport.session_opened
    view = client.with_auth(kycflow.BearerToken("x")).with_options(timeout=3, max_retries=0)
    assert view.transport is client.transport
    assert not client.transport.session_opened


async def test_owned_session_created_lazily_and_closed(server: FakeServer) -> None:
    server.route("GET", WIZARD, reply(envelope()))
    client = make_client(server.base_url)
    assert not client.transport.session_opened
    await client.wizard.start()
    session = client.transport.session()
    assert not session.closed
    await client.aclose()
    assert session.closed
    with pytest.raises(e.ConfigurationError, match="closed"):
        await client.wizard.start()
    await client.aclose()  # idempotent


async def test_caller_session_not_closed(server: FakeServer) -> None:
    server.route("GET", WIZARD, reply(envelope()))
    async with aiohttp.ClientSession() as session:
        async with make_client(server.base_url, session=session) as c:
            await c.wizard.start()
        assert not session.closed
    assert server.seen[0].headers["User-Agent"].startswith("kycflow/")


async def test_caller_connector_not_closed(server: FakeServer) -> None:
    server.route("GET", WIZARD, reply(envelope()))
    connector = aiohttp.TCPConnector(limit=3)
    try:
        async with make_client(server.base_url, connector=connector) as c:
            await c.wizard.start()
        assert not connector.closed
    finally:
        await connector.close()


def test_session_and_connector_together_refused() -> None:
    with pytest.raises(e.ConfigurationError):
        kycflow.Client(
            "https://h.example/api",
            session=object(),  # type: ignore[arg-type]
            connector=object(),  # type: ignore[arg-type]
        )


async def test_views_share_pool_and_carry_own_tokens(server: FakeServer) -> None:
    server.route("GET", WIZARD, reply(envelope()))
    async with make_client(server.base_url, auth=None) as root:
        alice = root.with_auth(kycflow.BearerToken("alice-tok"))
        bob = root.with_auth(kycflow.BearerToken("bob-tok"))
        assert not root.transport.session_opened
        await asyncio.gather(alice.wizard.start(), bob.wizard.start(), alice.wizard.start())
        session = root.transport.session()
        await alice.aclose()  # a view never closes the shared pool
        assert not session.closed
        await bob.wizard.start()
    assert session.closed
    tokens = sorted(s.headers["Authorization"] for s in server.seen)
    assert tokens == ["Bearer alice-tok", "Bearer alice-tok", "Bearer bob-tok", "Bearer bob-tok"]


async def test_with_options_applies(server: FakeServer, client: kycflow.Client) -> None:
    server.route("GET", WIZARD, error(503))
    with pytest.raises(e.ServerError):
        await client.with_options(max_retries=0).wizard.start()
    assert len(server.seen) == 1
    with pytest.raises(e.ConfigurationError):
        client.with_options(max_retries=-1)


async def test_no_auth_sends_no_authorization(server: FakeServer) -> None:
    server.route("GET", WIZARD, reply(envelope()))
    async with kycflow.Client(server.base_url) as c:
        await c.wizard.start()
    assert "Authorization" not in server.seen[0].headers
    assert server.seen[0].headers["User-Agent"] == f"kycflow/{kycflow.__version__}"


def test_repr_hides_token() -> None:
    client = kycflow.Client("https://h.example/api", auth=kycflow.BearerToken(TOKEN))
    assert TOKEN not in repr(client)


async def test_secrets_never_logged(server: FakeServer, tmp_path: Path) -> None:
    """A full session at DEBUG: sign-in, refresh, 401 replay, upload, errors, retries."""
    password = "PASSWORD-hunter2-XYZ"
    secrets = ["ACC-one-SECRET", "REF-one-SECRET", "ACC-two-SECRET", "REF-two-SECRET", password]
    file_marker = b"FILEBYTES-MARKER-0123456789"
    server.route("GET", "/v2/my/signin/wizard", reply(envelope(200, None, uuid="s")))
    server.route(
        "POST",
        "/v2/my/signin",
        reply(
            envelope(
                202,
                token_data(
                    "ACC-one-SECRET",
                    "REF-one-SECRET",
                    (datetime.now(UTC) + timedelta(seconds=1)).isoformat(),
                ),
                done=True,
            )
        ),
    )
    server.route(
        "POST",
        "/v2/my/refresh",
        reply(envelope(202, token_data("ACC-two-SECRET", "REF-two-SECRET"), done=True)),
    )
    server.route("GET", WIZARD, error(503), reply(envelope()))
    server.route("POST", "/v2/my/files", reply({"data": {"file": "u/a.jpg"}}))
    server.route("POST", "/v2/my/verifications", error(500, "internal"))
    path = tmp_path / "a.jpg"
    path.write_bytes(JPEG + file_marker)
    errors_seen: list[str] = []
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.DEBUG))
    try:
        with structlog.testing.capture_logs() as logs:
            async with make_client(server.base_url, auth=None) as c:
                auth = await c.sign_in("a@example.com", password)
                user = c.with_auth(auth)
                await user.wizard.start()
                stored = await user.files.upload(path)
                try:
                    await user.wizard.submit("s", 2, [stored])
                except e.OutcomeUnknownError as exc:
                    errors_seen.append(f"{exc!s} {exc!r} {exc.cause!s} {exc.cause!r}")
                errors_seen.append(repr(auth) + repr(user) + repr(auth.tokens))
    finally:
        structlog.reset_defaults()
    text = repr(logs) + " ".join(errors_seen)
    assert any(x["event"] == "http.request" for x in logs)
    assert any(x["event"] == "http.retry" for x in logs)
    assert any(x["event"] == "auth.refresh" for x in logs)
    assert len(server.requests_to("POST", "/v2/my/refresh")) == 1
    for secret in secrets:
        assert secret not in text
    assert file_marker.decode() not in text
    assert "Bearer" not in text
