"""Many users over one client, and tokens that expire in the middle of a run."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path
from typing import Any

from e2ekit import Reading, assert_committed_once, make_client, submits

import kycflow
from kycflow.models import DocumentType
from kycflow.testing import Faults, Sandbox, SandboxUser

USERS = 30


async def _run_all(
    sb: Sandbox, docs_dir: Path, **runner_kwargs: Any
) -> tuple[kycflow.Client, list[kycflow.WizardResult]]:
    users = sb.create_users(USERS)
    provider = kycflow.DirectoryProvider(docs_dir)
    async with make_client(sb) as client:
        views = [client.with_auth(kycflow.BearerToken(u.access_token)) for u in users]
        async with asyncio.timeout(8):
            results = await asyncio.gather(
                *(kycflow.WizardRunner(view, provider, **runner_kwargs).run() for view in views)
            )
        # Views share the root client's one transport (one pool); closing a view is a no-op.
        assert {id(v.transport) for v in views} == {id(client.transport)}
    return client, results


async def test_many_users_concurrently_over_one_client(sb: Sandbox, docs_dir: Path) -> None:
    client, results = await _run_all(sb, docs_dir)
    assert client.transport.closed
    assert all(r.done for r in results)
    assert len({r.uuid for r in results}) == USERS
    sb.assert_each_step_submitted_once()
    for user, result in zip(sb.users, results, strict=True):
        assert_committed_once(sb, user)
        # Each run saw only its own user's uploads.
        own = {u.path for u in sb.uploads(user)}
        assert {p for s in result.steps for p in s.files} == own
        assert len(submits(sb, user)) == 3
        assert sb.level_of(user) == 2


async def test_many_users_concurrently_under_seeded_faults(
    docs_dir: Path, reading: Reading
) -> None:
    faults = Faults.from_dict(
        {
            "seed": 7,
            "rates": {
                "submit": {"reset_after": 0.1, "reset_before": 0.05, "5xx": 0.05},
                "upload": {"reset_after": 0.05, "5xx": 0.05},
                "wizard": {"5xx": 0.05},
                "*": {"429": 0.02},
            },
            "retry_after": 0,
            "server_error_statuses": [500, 503],
        }
    )
    async with Sandbox(faults=faults) as sb:
        _, results = await _run_all(sb, docs_dir, max_submit_attempts=5)
        assert all(r.done for r in results)
        injected = Counter((r.route, r.fault) for r in sb.faults_injected())
        # The seed is chosen so that every kind of ambiguous submit really happens.
        assert injected[("submit", "reset_after")] > 0
        assert injected[("submit", "reset_before")] + injected[("submit", "5xx")] > 0
        sb.assert_each_step_submitted_once()
        assert sb.duplicates() == []
        for user in sb.users:
            assert_committed_once(sb, user)
        reconciled = sum(1 for r in results for s in r.steps if s.reconciled)
        if reading.submit_reply.startswith("empty"):
            # An empty reply says nothing: every step is learned by reading the wizard.
            assert reconciled == sum(len(r.steps) for r in results)
        else:
            assert reconciled == injected[("submit", "reset_after")]


def _slow_selfie_provider(docs_dir: Path, delay: float) -> kycflow.CallableProvider:
    inner = kycflow.DirectoryProvider(docs_dir)

    async def lookup(doc_type: DocumentType) -> list[kycflow.Document] | None:
        if doc_type.id == 3:
            await asyncio.sleep(delay)  # the access token expires while the user takes a selfie
        return await inner.documents_for(doc_type)

    return kycflow.CallableProvider(lookup)


def _expiring_selfie_provider(
    docs_dir: Path, sb: Sandbox, user: SandboxUser
) -> kycflow.CallableProvider:
    inner = kycflow.DirectoryProvider(docs_dir)
    expired = False

    async def lookup(doc_type: DocumentType) -> list[kycflow.Document] | None:
        nonlocal expired
        if doc_type.id == 3 and not expired:
            # The access token expires while the user takes a selfie: at this very point of the
            # run, not after a lifetime the requests before it may outlast on a loaded machine.
            sb.expire_token(user)
            expired = True
        return await inner.documents_for(doc_type)

    return kycflow.CallableProvider(lookup)


async def test_token_refresh_after_a_401_mid_run(docs_dir: Path) -> None:
    async with Sandbox() as sb:
        user = sb.create_user()
        first_token = user.access_token
        # No expiry known to the client: it learns from the 401 and refreshes once.
        auth = kycflow.SessionAuth(user.access_token, user.refresh_token)
        provider = _expiring_selfie_provider(docs_dir, sb, user)
        async with make_client(sb, auth=auth) as client:
            result = await kycflow.WizardRunner(client, provider).run()
        assert result.done
        assert auth.refresh_count == 1
        refreshes = sb.requests(route="refresh")
        assert len(refreshes) == auth.refresh_count
        assert all(r.status == 200 for r in refreshes)
        unauthorized = [r for r in sb.requests() if r.status == 401]
        assert [r.route for r in unauthorized] == ["upload"]
        assert user.access_token != first_token
        # The refused upload was sent again in full: one stored selfie, every step once.
        assert [u.filename for u in sb.uploads(user)].count("selfie.jpg") == 1
        assert_committed_once(sb, user)


async def test_token_refresh_before_expiry_after_signing_in(docs_dir: Path) -> None:
    async with Sandbox(access_token_ttl=1.0, throttle_signin=False) as sb:
        user = sb.create_user()
        provider = _slow_selfie_provider(docs_dir, 0.8)
        async with make_client(sb) as client:
            session = await client.sign_in(user.email, user.password, refresh_margin=0.5)
            assert session.expires_at is not None
            alice = client.with_auth(session)
            result = await kycflow.WizardRunner(alice, provider).run()
        assert result.done
        # The expiry the server announced is honoured: refreshed ahead of time, never refused.
        assert session.refresh_count >= 1
        assert len(sb.requests(route="refresh")) == session.refresh_count
        assert [r for r in sb.requests() if r.status == 401] == []
        assert len(sb.requests(route="signin")) == 1
        assert_committed_once(sb, user)


async def test_views_for_different_users_do_not_share_credentials(
    sb: Sandbox, docs_dir: Path
) -> None:
    users = sb.create_users(3)
    async with make_client(sb) as client:
        provider = kycflow.DirectoryProvider(docs_dir)
        for user in users:
            view = client.with_auth(kycflow.BearerToken(user.access_token))
            await kycflow.WizardRunner(view, provider).run()
    for user in users:
        assert {r.user for r in sb.requests(user=user.email)} == {user.email}
        assert_committed_once(sb, user)
