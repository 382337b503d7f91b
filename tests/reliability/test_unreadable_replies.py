"""A 2xx reply whose body cannot be read (cut short by a proxy or a dying server): a GET is
retried; a POST was applied, so its outcome is unknown and the runner reconciles it."""

from __future__ import annotations

import pytest
from fakeclock import FakeClock

import kycflow
from kycflow.testing import Faults, Sandbox

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(64)


def _client(sb: Sandbox, token: str, **kwargs: object) -> kycflow.Client:
    return kycflow.Client(
        sb.base_url,
        auth=kycflow.BearerToken(token),
        initial_backoff=0.01,
        max_backoff=0.02,
        **kwargs,  # type: ignore[arg-type]
    )


async def test_cut_short_get_is_retried() -> None:
    async with Sandbox(faults=Faults().fail_next("wizard", "malformed_json")) as sb:
        user = sb.create_user()
        async with _client(sb, user.access_token) as client:
            step = await client.wizard.start()
        assert step.code == 200
        assert [r.fault for r in sb.requests("wizard")] == ["malformed_json", None]


async def test_cut_short_get_past_the_budget_is_a_protocol_error() -> None:
    async with Sandbox(faults=Faults().fail_next("history", "malformed_json", 3)) as sb:
        user = sb.create_user()
        async with _client(sb, user.access_token, max_retries=2) as client:
            with pytest.raises(kycflow.ProtocolError) as info:
                await client.verifications.list()
        assert info.value.status == 200
        assert len(sb.requests("history")) == 3


async def test_cut_short_submit_is_outcome_unknown_and_sent_once() -> None:
    async with Sandbox() as sb:
        user = sb.create_user()
        async with _client(sb, user.access_token, max_retries=5) as client:
            step = await client.wizard.start()
            path = await client.files.upload(JPEG, name="passport.jpg")
            sb.set_faults(Faults().fail_next("submit", "malformed_json"))
            with pytest.raises(kycflow.OutcomeUnknownError) as info:
                await client.wizard.submit(step.uuid, 2, [path])
        assert isinstance(info.value.cause, kycflow.ProtocolError)
        assert len(sb.requests("submit")) == 1
        assert len(sb.submissions(user)) == 1  # the server did commit it


async def test_runner_settles_a_cut_short_submit_without_a_duplicate() -> None:
    faults = Faults().fail_next("submit", "malformed_json").fail_next("upload", "malformed_json")
    async with Sandbox(faults=faults) as sb:
        user = sb.create_user()
        provider = kycflow.MemoryProvider(
            {2: ("passport.jpg", JPEG), 3: ("selfie.jpg", JPEG), 4: b"%PDF-1.4\n" + bytes(32)}
        )
        clock = FakeClock()  # the default settle delay, recorded instead of slept
        async with _client(sb, user.access_token) as client:
            result = await kycflow.WizardRunner(client, provider, sleep=clock.sleep).run()
        assert result.done
        backoff, settle = clock.waits  # the cut-short upload's retry, then one settle
        assert backoff < 2.0
        assert 2.0 <= settle <= 2.2
        assert result.steps[0].reconciled
        sb.assert_each_step_submitted_once()
        assert len(sb.submissions(user)) == 3
        assert sb.duplicates() == []
