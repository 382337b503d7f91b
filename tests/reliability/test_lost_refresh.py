"""A lost refresh reply (the server rotated the tokens, the reply never arrived): recovered
where the server still honours the old refresh token, else one clear AuthenticationError per
call telling the app to sign in again, without further requests on revoked tokens."""

from __future__ import annotations

import pytest

import kycflow
from kycflow.testing import Faults, Quirks, Sandbox, Scenario


def _session_client(sb: Sandbox, user: object) -> tuple[kycflow.Client, kycflow.SessionAuth]:
    auth = kycflow.SessionAuth(user.access_token, user.refresh_token)  # type: ignore[attr-defined]
    return kycflow.Client(sb.base_url, auth=auth, timeout=5.0, initial_backoff=0.01), auth


async def test_a_lost_reply_after_rotation_ends_the_session_with_a_clear_error() -> None:
    async with Sandbox(faults=Faults().fail_next("refresh", "reset_after")) as sb:
        user = sb.create_user()
        client, auth = _session_client(sb, user)
        async with client:
            sb.expire_token(user)
            with pytest.raises(kycflow.AuthenticationError) as caught:
                await client.verifications.list()
            message = str(caught.value)
            assert auth.signed_out
            assert "reply was lost" in message
            assert "sign the user in again" in message
            # Rotated, then the reply was lost; tried once more with the old token: refused.
            assert len(sb.requests(route="refresh")) == 2
            assert len(sb.faults_injected(route="refresh", kind="reset_after")) == 1
            before = len(sb.requests())
            for _ in range(3):
                with pytest.raises(kycflow.AuthenticationError, match="sign the user in again"):
                    await client.verifications.list()
            assert len(sb.requests()) == before  # no request on tokens the server revoked
        for secret in (user.access_token, user.refresh_token):
            assert secret not in message


async def test_a_lost_reply_is_recovered_when_the_old_refresh_token_still_works() -> None:
    base = Scenario.default()
    keeps_refresh_token = Scenario(
        base.levels, base.steps, base.initial_level,
        quirks=Quirks(refresh_returns_refresh_token=False),
    )  # fmt: skip
    faults = Faults().fail_next("refresh", "reset_after")
    async with Sandbox(keeps_refresh_token, faults=faults) as sb:
        user = sb.create_user()
        client, auth = _session_client(sb, user)
        async with client:
            sb.expire_token(user)
            page = await client.verifications.list()  # refreshed on the second try
            assert not auth.signed_out
            assert page is not None
            assert auth.refresh_count == 1
            assert auth.tokens.access_token.token.get_secret_value() == user.access_token
            await client.verifications.list()
        assert len(sb.requests(route="refresh")) == 2


async def test_a_refused_refresh_token_says_so_and_later_calls_fail_fast() -> None:
    async with Sandbox() as sb:
        user = sb.create_user()
        auth = kycflow.SessionAuth(user.access_token, "rt_not-the-users")
        async with kycflow.Client(sb.base_url, auth=auth, timeout=5.0) as client:
            sb.expire_token(user)
            with pytest.raises(kycflow.AuthenticationError, match="refused the refresh token"):
                await client.verifications.list()
            before = len(sb.requests())
            with pytest.raises(kycflow.AuthenticationError, match="refused the refresh token"):
                await client.verifications.list()
            assert len(sb.requests()) == before
            assert len(sb.requests(route="refresh")) == 1  # nothing was lost: not retried
