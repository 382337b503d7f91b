"""Overload: a server answering 429 with Retry-After to everything for a while, and the
vendor's sign-in throttle. Gaps and request counts are measured on the server side."""

from __future__ import annotations

import itertools
import time
from collections.abc import AsyncIterator

import pytest

import kycflow
from kycflow.testing import Faults, Sandbox, SandboxUser

RETRY_AFTER = 1.0
_JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(64)
_DOCS: dict[int | str, tuple[str, bytes]] = {
    2: ("passport.jpg", _JPEG),
    3: ("selfie.jpg", _JPEG),
    4: ("proof_of_address.pdf", b"%PDF-1.4\n" + bytes(64)),
}
# Server-side timestamps are wall-clock; allow for clock granularity only.
SLACK = 0.01


@pytest.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    async with Sandbox() as sb:
        yield sb


def _client(sb: Sandbox, user: SandboxUser | None = None, **kwargs: object) -> kycflow.Client:
    auth = None if user is None else kycflow.BearerToken(user.access_token)
    return kycflow.Client(sb.base_url, auth=auth, timeout=10.0, **kwargs)  # type: ignore[arg-type]


def _gaps(sb: Sandbox, route: str) -> list[float]:
    times = [r.time for r in sb.requests(route)]
    return [b - a for a, b in itertools.pairwise(times)]


async def test_overload_budget_spent_raises_rate_limit(sandbox: Sandbox) -> None:
    user = sandbox.create_user()
    sandbox.set_faults(Faults(retry_after=RETRY_AFTER).add_window("429", seconds=30))
    async with _client(sandbox, user, max_retries=2) as client:
        started = time.monotonic()
        with pytest.raises(kycflow.RateLimitError) as info:
            await client.verifications.list()
        elapsed = time.monotonic() - started
    assert info.value.status == 429
    assert info.value.retry_after == RETRY_AFTER
    # 1 + max_retries requests, each after the pause the server asked for, and no more.
    assert [r.status for r in sandbox.requests("history")] == [429, 429, 429]
    gaps = _gaps(sandbox, "history")
    assert len(gaps) == 2
    assert all(gap >= RETRY_AFTER - SLACK for gap in gaps), gaps
    assert elapsed < 2 * RETRY_AFTER + 1.5


async def test_overload_ending_within_the_budget_succeeds(sandbox: Sandbox) -> None:
    user = sandbox.create_user()
    async with _client(sandbox, user, max_retries=3) as client:
        await client.wizard.start()  # the session, its connection and imports: ready
        # The second attempt must fall in the window, the third after it. The third can come
        # no sooner than two Retry-After pauses after the window opened (the client waits each
        # out on the monotonic clock the window uses), so the window may last almost that long:
        # the first two attempts then have 0.9 s to spare on a slow machine, not 0.5.
        overload = 2 * RETRY_AFTER - 0.1
        sandbox.set_faults(Faults(retry_after=RETRY_AFTER).add_window("429", seconds=overload))
        page = await client.verifications.list()
    assert page.total == 1
    statuses = [r.status for r in sandbox.requests("history")]
    assert statuses == [429, 429, 200]
    assert all(gap >= RETRY_AFTER - SLACK for gap in _gaps(sandbox, "history"))


async def test_overloaded_submit_is_not_resent_but_reconciled_and_committed_once(
    sandbox: Sandbox,
) -> None:
    """A 429 to a submit may come from a rate limiter in front of a server that committed: the
    transport never resends it; the runner settles, reads the wizard and resends only if the
    step is still there."""
    user = sandbox.create_user()
    async with _client(sandbox, user, max_retries=3) as client:
        step = await client.wizard.start()
        path = await client.files.upload(
            b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(64), name="passport.jpg"
        )
        sandbox.set_faults(
            Faults(retry_after=RETRY_AFTER).add_window("429", route="submit", requests=1)
        )
        with pytest.raises(kycflow.OutcomeUnknownError) as info:
            await client.wizard.submit(step.uuid, 2, [path])
        assert isinstance(info.value.cause, kycflow.RateLimitError)
        assert [r.status for r in sandbox.requests("submit")] == [429]

        sandbox.set_faults(
            Faults(retry_after=RETRY_AFTER).add_window("429", route="submit", requests=2)
        )
        waits: list[float] = []

        async def fake_sleep(delay: float) -> None:
            waits.append(delay)

        runner = kycflow.WizardRunner(client, kycflow.MemoryProvider(_DOCS), sleep=fake_sleep)
        result = await runner.run()
    assert result.succeeded
    assert [r.status for r in sandbox.requests("submit")][:4] == [429, 429, 429, 200]
    assert len(sandbox.submissions(user)) == 3
    assert sandbox.duplicates() == []
    assert len(waits) == 2  # a settle before each re-read, growing
    assert waits[1] > waits[0]


async def test_overload_request_budget_counted(sandbox: Sandbox) -> None:
    user = sandbox.create_user()
    sandbox.set_faults(Faults(retry_after=0).add_window("429", requests=100))
    async with _client(sandbox, user, max_retries=4, initial_backoff=0.01) as client:
        with pytest.raises(kycflow.RateLimitError) as info:
            await client.wizard.start()
        assert info.value.retry_after == 0
        assert len(sandbox.requests("wizard")) == 5
        with pytest.raises(kycflow.RateLimitError):
            await client.wizard.start(max_retries=0)
    assert len(sandbox.requests("wizard")) == 6


async def test_sign_in_answered_429_is_one_request(sandbox: Sandbox) -> None:
    user = sandbox.create_user(password="correct-horse")
    sandbox.set_faults(Faults(retry_after=RETRY_AFTER).fail_next("signin", "429"))
    async with _client(sandbox, max_retries=5) as client:
        with pytest.raises(kycflow.RateLimitError) as info:
            await client.sign_in(user.email, "correct-horse")
        assert info.value.retry_after == RETRY_AFTER
        assert len(sandbox.requests("signin")) == 1
        # The same overload on every route: still one sign-in request per call.
        sandbox.set_faults(Faults(retry_after=0).add_window("429", seconds=30))
        with pytest.raises(kycflow.RateLimitError):
            await client.sign_in(user.email, "correct-horse")
    assert len(sandbox.requests("signin_wizard")) == 2
    assert [r.status for r in sandbox.requests("signin")] == [429]


async def test_wrong_passwords_are_never_retried_into_the_lockout(sandbox: Sandbox) -> None:
    user = sandbox.create_user(password="correct-horse")
    async with _client(sandbox, max_retries=5) as client:
        for attempt in range(1, 6):
            with pytest.raises(kycflow.AuthenticationError):
                await client.sign_in(user.email, f"wrong-{attempt}")
            # One request per call: the client adds no tries of its own.
            assert len(sandbox.requests("signin")) == attempt
        # The vendor's throttle: the sixth try in a minute locks the account out.
        with pytest.raises(kycflow.RateLimitError) as info:
            await client.sign_in(user.email, "correct-horse")
    assert len(sandbox.requests("signin")) == 6
    # The server's own lockout figure is reported, not the client's wait cap.
    assert info.value.retry_after is not None
    assert info.value.retry_after > 60


async def test_sign_in_server_error_is_not_retried(sandbox: Sandbox) -> None:
    user = sandbox.create_user(password="correct-horse")
    sandbox.set_faults(Faults().fail_next("signin", "5xx", status=503))
    async with _client(sandbox, max_retries=5) as client:
        with pytest.raises(kycflow.ServerError):
            await client.sign_in(user.email, "correct-horse")
        assert len(sandbox.requests("signin")) == 1
        sandbox.set_faults(Faults().fail_next("signin", "reset_after"))
        with pytest.raises(kycflow.OutcomeUnknownError):
            await client.sign_in(user.email, "correct-horse")
        assert len(sandbox.requests("signin")) == 2
        auth = await client.sign_in(user.email, "correct-horse")
    assert isinstance(auth, kycflow.SessionAuth)
    assert len(sandbox.requests("signin")) == 3
