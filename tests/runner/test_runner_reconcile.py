"""The run's budget and the submit's reconciliation, on a fake clock: no real sleeping."""

from __future__ import annotations

import random

import pytest
from runner_fakes import ALL_DOCS, FakeClock, FakeServer

from kycflow import (
    ConflictError,
    MemoryCheckpointStore,
    PermissionDeniedError,
    WizardDeadlineError,
    WizardRunner,
)
from kycflow.errors import (
    APIConnectionError,
    APIStatusError,
    APITLSError,
    BadRequestError,
    OutcomeUnknownError,
    ProtocolError,
    RateLimitError,
    ServerError,
)
from kycflow.models import WizardStep
from kycflow.wizard.events import Retrying, StepSubmitted, WizardEvent
from kycflow.wizard.retrying import (
    RETRY_BACKOFF_CAP,
    SETTLE_DELAY_CAP,
    full_jitter,
    is_transient,
    settle_delay,
)


def _committed_once(server: FakeServer, steps: int = 3) -> None:
    user = server.user()
    assert len(user.committed) == steps == len(set(user.committed))
    assert user.duplicates == []


async def test_an_echo_reply_is_followed_by_a_read_of_the_next_page() -> None:
    server = FakeServer(echo=True)
    result = await WizardRunner(server.client(), ALL_DOCS).run()
    _committed_once(server)
    assert result.succeeded
    # The start, then one read after each of the two echoes (the final 202 ends it itself).
    assert server.user().get_calls == 3


@pytest.mark.parametrize("fault", ["commit_then_429", "commit_then_503"])
async def test_a_committed_submit_answered_429_or_503_is_reconciled_not_resent(
    fault: str, clock: FakeClock
) -> None:
    server = FakeServer()
    user = server.user()
    user.submit_faults.append(fault)
    result = await WizardRunner(server.client(), ALL_DOCS).run()
    _committed_once(server)
    assert user.submit_calls == 3
    assert result.steps[0].reconciled
    assert len(clock.waits) == 1  # one settle, then the read
    assert 2.0 <= clock.waits[0] <= 2.2


@pytest.mark.parametrize("fault", ["429", "503"])
async def test_an_uncommitted_submit_answered_429_or_503_is_resent_once(
    fault: str, clock: FakeClock
) -> None:
    server = FakeServer()
    user = server.user()
    user.submit_faults.append(fault)
    result = await WizardRunner(server.client(), ALL_DOCS).run()
    _committed_once(server)
    assert user.submit_calls == 4
    assert result.retries == 1


async def test_a_first_submit_answered_409_is_reconciled_by_reading() -> None:
    # Another tab committed the step: the 409 comes to this run's very first attempt.
    server = FakeServer()
    user = server.user()
    events: list[WizardEvent] = []

    class OtherTab:
        def __init__(self) -> None:
            self.wizard = self
            self.files = server.client().files
            self.inner = server.client().wizard

        async def start(self) -> WizardStep:
            return await self.inner.start()

        async def submit(self, uuid: str, type_id: int, files: list[str]) -> WizardStep:
            if not user.committed:
                await self.inner.submit(uuid, type_id, files)  # the other tab's commit
            return await self.inner.submit(uuid, type_id, files)

    result = await WizardRunner(OtherTab(), ALL_DOCS, on_event=events.append).run()
    assert result.succeeded
    assert len(user.duplicates) == 1  # the refused repeat: one commit kept
    assert result.steps[0].reconciled
    assert next(e.reconciled for e in events if isinstance(e, StepSubmitted)) is True


async def test_a_conflict_to_a_later_resend_is_reconciled_whatever_the_attempt(
    clock: FakeClock,
) -> None:
    # Two lost replies, the second after a commit: the third attempt gets a 400 (the step is
    # gone) and the runner reads the wizard instead of failing.
    server = FakeServer()
    user = server.user()
    user.submit_faults.extend(["unknown", "late_commit"])
    result = await WizardRunner(server.client(), ALL_DOCS, settle_delay=0).run()
    assert result.succeeded
    assert len(user.committed) == 3
    assert result.steps[0].reconciled


async def test_a_persistent_conflict_on_an_unchanged_step_is_raised() -> None:
    server = FakeServer()

    class Conflicted:
        def __init__(self) -> None:
            self.files = server.client().files
            self.wizard = self

        async def start(self) -> WizardStep:
            return await server.client().wizard.start()

        async def submit(self, uuid: str, type_id: int, files: list[str]) -> WizardStep:
            raise ConflictError("locked", status=409)

    with pytest.raises(ConflictError):
        await WizardRunner(Conflicted(), ALL_DOCS, max_submit_attempts=2).run()


async def test_settle_delays_grow_per_attempt_and_the_deadline_ends_the_run(
    clock: FakeClock,
) -> None:
    server = FakeServer()
    server.user().submit_faults.extend(["503"] * 100)
    with pytest.raises(WizardDeadlineError) as info:
        await WizardRunner(server.client(), ALL_DOCS, deadline=100).run()
    bases = [2.0, 4.0, 8.0, 16.0, 30.0, 30.0]
    for wait, base in zip(clock.waits, bases, strict=False):
        assert base <= wait <= base * 1.1
    assert isinstance(info.value.last_error, ServerError)
    assert "503" in str(info.value) or "ServerError" in str(info.value)


async def test_resume_with_a_submit_in_flight_settles_before_reading(clock: FakeClock) -> None:
    server = FakeServer()
    user = server.user()
    user.submit_faults.append("commit_then_unknown")
    store = MemoryCheckpointStore()

    async def crash(delay: float) -> None:
        raise KeyboardInterrupt  # the process dies during the settle

    with pytest.raises(KeyboardInterrupt):
        await WizardRunner(
            server.client(), ALL_DOCS, checkpoint_store=store, checkpoint_key="k", sleep=crash
        ).run()
    reads_before = user.get_calls
    waits: list[tuple[float, int]] = []

    async def recording(delay: float) -> None:
        waits.append((delay, user.get_calls))

    result = await WizardRunner(
        server.client(), ALL_DOCS, checkpoint_store=store, checkpoint_key="k", sleep=recording
    ).run()
    # The first thing the resumed run does is wait, before its first read.
    assert waits[0][1] == reads_before
    assert 2.0 <= waits[0][0] <= 2.2
    assert result.steps[0].reconciled
    _committed_once(server)


async def test_transient_reads_and_uploads_are_retried_with_capped_full_jitter(
    clock: FakeClock,
) -> None:
    server = FakeServer()
    user = server.user()
    user.get_faults.extend(["down"] * 12)
    user.upload_faults.extend(["503", "unknown", "503"])
    events: list[WizardEvent] = []
    result = await WizardRunner(
        server.client(), ALL_DOCS, on_event=events.append, rng=random.Random(3)
    ).run()
    _committed_once(server)
    retried = [e.action for e in events if isinstance(e, Retrying)]
    assert retried.count("read") == 12  # far more than any fixed count: the deadline rules
    assert retried.count("upload") == 3
    assert result.retries == 15
    assert all(0 <= w <= RETRY_BACKOFF_CAP for w in clock.waits)
    assert max(clock.waits) > 1.0  # grew past the first attempts' caps


async def test_a_non_transient_failure_ends_the_run_at_once(clock: FakeClock) -> None:
    server = FakeServer()
    server.user().upload_faults.append("forbidden")
    with pytest.raises(PermissionDeniedError):
        await WizardRunner(server.client(), ALL_DOCS).run()
    assert clock.waits == []


def test_the_pure_decisions() -> None:
    rng = random.Random(1)
    for n in range(1, 30):
        assert 0 <= full_jitter(n, rng) <= min(RETRY_BACKOFF_CAP, 0.5 * 2 ** (n - 1))
    for n in (1, 2, 3, 4):
        base = 2.0 * 2 ** (n - 1)
        assert base <= settle_delay(n, rng, initial=2.0) <= base * 1.1
    assert SETTLE_DELAY_CAP <= settle_delay(10, rng, initial=2.0) <= SETTLE_DELAY_CAP * 1.1
    assert settle_delay(1, rng, initial=0) == 0
    unknown = OutcomeUnknownError("?", cause=APIConnectionError("x"))
    for exc in (
        unknown,
        APIConnectionError("x"),
        RateLimitError("x", status=429),
        ServerError("x", status=502),
        ProtocolError("x", transient=True),
        APIStatusError("x", status=408),
    ):
        assert is_transient(exc), exc
    for exc in (
        BadRequestError("x", status=400),
        ServerError("x", status=501),
        ProtocolError("x"),
        PermissionDeniedError("x", status=403),
        APITLSError("bad certificate"),
        ValueError("x"),
    ):
        assert not is_transient(exc), exc


async def test_a_checkpoint_of_0_1_0_with_a_submit_in_flight_is_not_taken_as_committed() -> None:
    # 0.1.0's signatures also held ``done``: an unchanged step must still look unchanged.
    import json

    from kycflow import Checkpoint
    from kycflow.wizard.checkpoint import StepInProgress, step_signature

    server = FakeServer()
    user = server.user()
    step = await server.client().wizard.start()
    parts = json.loads(step_signature(step))
    old = json.dumps([parts[0], parts[1], False, *parts[2:]], separators=(",", ":"))
    store = MemoryCheckpointStore()
    current = StepInProgress(signature=old, type_id=2, submit_in_flight=True)
    await store.save("k", Checkpoint(key="k", uuid=step.uuid, current=current))
    result = await WizardRunner(
        server.client(), ALL_DOCS, checkpoint_store=store, checkpoint_key="k"
    ).run()
    _committed_once(server)
    assert result.steps[0].reconciled is False  # it was sent again, not assumed committed
    assert user.submit_calls == 3
