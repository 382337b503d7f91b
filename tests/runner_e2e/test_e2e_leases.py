"""One run per checkpoint key: a second run of a leased key fails fast or waits, and never
submits while the first holds the key (``MemoryCheckpointStore``: per process)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from e2ekit import assert_committed_once, copy_assets, make_client, submits

import kycflow
from kycflow.testing import Sandbox
from kycflow.wizard.events import WizardEvent


async def test_two_concurrent_runs_of_one_key_exactly_one_submits(
    sb: Sandbox, docs_dir: Path
) -> None:
    user = sb.create_user()
    store = kycflow.MemoryCheckpointStore()
    async with make_client(sb, user) as client:

        def runner() -> kycflow.WizardRunner:
            return kycflow.WizardRunner(
                client,
                kycflow.DirectoryProvider(docs_dir),
                checkpoint_store=store,
                checkpoint_key="user-1",
            )

        outcomes = await asyncio.gather(runner().run(), runner().run(), return_exceptions=True)
    done = [o for o in outcomes if isinstance(o, kycflow.WizardResult)]
    busy = [o for o in outcomes if isinstance(o, kycflow.RunInProgressError)]
    assert len(done) == 1, outcomes
    assert len(busy) == 1, outcomes
    assert busy[0].key == "user-1"
    assert "submitted nothing" in str(busy[0])
    assert_committed_once(sb, user)
    assert len(submits(sb, user)) == len(sb.scenario.steps)  # the busy run sent none
    assert store.dump()["user-1"]["done"] is True


async def test_different_keys_run_side_by_side(sb: Sandbox, docs_dir: Path) -> None:
    users = [sb.create_user(), sb.create_user()]
    store = kycflow.MemoryCheckpointStore()
    clients = [make_client(sb, u) for u in users]
    try:
        results = await asyncio.gather(
            *(
                kycflow.WizardRunner(
                    c,
                    kycflow.DirectoryProvider(docs_dir),
                    checkpoint_store=store,
                    checkpoint_key=f"k{i}",
                ).run()
                for i, c in enumerate(clients)
            )
        )
    finally:
        for c in clients:
            await c.aclose()
    assert all(r.done for r in results)
    for user in users:
        assert_committed_once(sb, user)


async def test_a_waiting_run_takes_over_after_the_first_ends_and_resumes_its_checkpoint(
    sb: Sandbox, docs_dir: Path, tmp_path: Path
) -> None:
    # The first run commits step 1 and then fails (its provider lacks a later document); the
    # second waits for the lease, then resumes from the checkpoint: nothing is committed twice.
    partial = copy_assets(tmp_path / "partial", docs_dir, ["passport.jpg", "id_card.jpg"])
    user = sb.create_user()
    store = kycflow.MemoryCheckpointStore(on_busy="wait", lease_wait=30)
    first_ended: list[float] = []
    second_events: list[tuple[float, WizardEvent]] = []
    async with make_client(sb, user) as client:

        async def first() -> None:
            try:
                await kycflow.WizardRunner(
                    client,
                    kycflow.DirectoryProvider(partial),
                    checkpoint_store=store,
                    checkpoint_key="user-1",
                ).run()
            finally:
                first_ended.append(time.monotonic())

        second = kycflow.WizardRunner(
            client,
            kycflow.DirectoryProvider(docs_dir),
            checkpoint_store=store,
            checkpoint_key="user-1",
            on_event=lambda e: second_events.append((time.monotonic(), e)),
        )
        outcomes = await asyncio.gather(first(), second.run(), return_exceptions=True)
    assert isinstance(outcomes[0], kycflow.MissingDocumentError), outcomes
    result = outcomes[1]
    assert isinstance(result, kycflow.WizardResult), outcomes
    assert result.done
    assert result.resumed
    assert second_events
    assert second_events[0][0] >= first_ended[0]
    assert_committed_once(sb, user)


async def test_waiting_gives_up_after_lease_wait(sb: Sandbox, docs_dir: Path) -> None:
    store = kycflow.MemoryCheckpointStore(on_busy="wait", lease_wait=0.2)
    async with store.lease("user-1", "someone-else"):
        user = sb.create_user()
        async with make_client(sb, user) as client:
            started = time.monotonic()
            with pytest.raises(kycflow.RunInProgressError, match="waited"):
                await kycflow.WizardRunner(
                    client,
                    kycflow.DirectoryProvider(docs_dir),
                    checkpoint_store=store,
                    checkpoint_key="user-1",
                ).run()
            assert 0.15 <= time.monotonic() - started < 5
    assert sb.requests(user=user.email) == []


def test_bad_lease_settings_are_refused() -> None:
    with pytest.raises(kycflow.ConfigurationError):
        kycflow.MemoryCheckpointStore(on_busy="queue")  # type: ignore[arg-type]
    with pytest.raises(kycflow.ConfigurationError):
        kycflow.MemoryCheckpointStore(on_busy="wait", lease_wait=0)


async def test_a_store_without_leases_is_used_as_before() -> None:
    from kycflow.wizard.leases import current_lease, hold_lease

    class PlainStore:  # a CheckpointStore of an older design: no lease method
        async def load(self, key: str) -> None:
            return None

        async def save(self, key: str, checkpoint: object) -> None: ...

        async def delete(self, key: str) -> None: ...

    async with hold_lease(PlainStore(), "k", "run") as lease:
        assert lease is None
        assert current_lease() is None
    store = kycflow.MemoryCheckpointStore()
    async with hold_lease(store, "k", "run-1") as lease:
        assert lease is not None
        assert current_lease() is lease
        assert (lease.key, lease.owner, lease.token) == ("k", "run-1", 1)
    assert current_lease() is None
    async with hold_lease(store, "k", "run-2") as again:
        assert again is not None
        assert again.token == 2  # fencing tokens grow per key
