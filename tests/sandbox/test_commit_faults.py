"""The faults after which the server did (or will) commit, and a server accepting repeats, as a
raw aiohttp client sees them."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator

import aiohttp
import pytest
from polling import eventually

from kycflow.testing import CLASSIC_KINDS, COMMIT_KINDS, FaultKind, Faults, Sandbox

JPEG = b"\xff\xd8\xff\xe0" + b"j" * 2000


@pytest.fixture
async def fresh() -> AsyncIterator[aiohttp.ClientSession]:
    connector = aiohttp.TCPConnector(force_close=True)
    async with aiohttp.ClientSession(
        connector=connector, timeout=aiohttp.ClientTimeout(total=10)
    ) as session:
        yield session


def _auth(sb: Sandbox) -> dict[str, str]:
    return {"Authorization": f"Bearer {sb.user('a@x.test').access_token}"}


async def _open_step(http: aiohttp.ClientSession, sb: Sandbox) -> tuple[str, str]:
    async with http.get(sb.url("/v2/my/verifications/wizard"), headers=_auth(sb)) as r:
        uuid = (await r.json())["uuid"]
    form = aiohttp.FormData()
    form.add_field("file", JPEG, filename="p.jpg", content_type="image/jpeg")
    async with http.post(sb.url("/v2/my/files"), data=form, headers=_auth(sb)) as r:
        path = (await r.json())["data"]["file"]
    return uuid, path


async def _submit(
    http: aiohttp.ClientSession, sb: Sandbox, uuid: str, path: str
) -> tuple[int, dict[str, str], object]:
    body = {"data": {"documents": {"type": 2, "files": [path]}, "uuid": uuid}}
    async with http.post(sb.url("/v2/my/verifications"), json=body, headers=_auth(sb)) as r:
        return r.status, dict(r.headers), json.loads(await r.read())


@pytest.mark.parametrize(
    ("kind", "status"),
    [("commit_503", 503), ("commit_429", 429), ("commit_500", 500)],
)
async def test_commit_then_an_error_reply(
    fresh: aiohttp.ClientSession, kind: str, status: int
) -> None:
    async with Sandbox(faults=Faults(retry_after=2).fail_next("submit", kind)) as sb:
        sb.create_user("a@x.test")
        uuid, path = await _open_step(fresh, sb)
        got, headers, body = await _submit(fresh, sb, uuid, path)
        assert got == status
        assert ("Retry-After" in headers) == (status != 500)
        assert isinstance(body, dict)
        assert body["error"]["message"]
        assert len(sb.submissions()) == 1  # committed, whatever the reply said
        assert (await _submit(fresh, sb, uuid, path))[0] == 409
        assert len(sb.duplicates()) == 1


# The delay of the late commits below is the window the client's next step must fit in (the
# check after the reply, or the resend): 1.5 s leaves room for a loaded machine.
LATE = 1.5


async def _late_processing_done(sb: Sandbox) -> None:
    await eventually(lambda: not sb.state.late_tasks, "the late processing", limit=LATE + 5)


async def test_late_commit_answers_at_once_and_commits_later(
    fresh: aiohttp.ClientSession,
) -> None:
    faults = Faults(late_commit_delay=LATE).fail_next("submit", "late_commit")
    async with Sandbox(faults=faults) as sb:
        sb.create_user("a@x.test")
        uuid, path = await _open_step(fresh, sb)
        sent = time.time()
        status, _, _ = await _submit(fresh, sb, uuid, path)
        replied = time.time()
        assert status in (500, 504)
        assert sb.submissions() == []
        await _late_processing_done(sb)
        assert len(sb.submissions()) == 1
        # Committed the delay after the request: not sooner, nor much later.
        assert sent + LATE <= sb.submissions()[0].time <= replied + LATE + 1.0
        assert [r.fault for r in sb.requests(route="submit")] == ["late_commit"]


async def test_a_resend_before_the_late_commit_wins_and_the_late_one_is_refused(
    fresh: aiohttp.ClientSession,
) -> None:
    faults = Faults(late_commit_delay=LATE).fail_next("submit", "late_commit")
    async with Sandbox(faults=faults) as sb:
        sb.create_user("a@x.test")
        uuid, path = await _open_step(fresh, sb)
        assert (await _submit(fresh, sb, uuid, path))[0] in (500, 504)
        assert (await _submit(fresh, sb, uuid, path))[0] == 200
        await _late_processing_done(sb)
        assert len(sb.submissions()) == 1
        assert len(sb.duplicates()) == 1  # the late processing found it committed


async def test_a_late_commit_on_an_upload_is_a_plain_server_error(
    fresh: aiohttp.ClientSession,
) -> None:
    faults = Faults(late_commit_delay=0.1).fail_next("upload", "late_commit")
    async with Sandbox(faults=faults) as sb:
        sb.create_user("a@x.test")
        form = aiohttp.FormData()
        form.add_field("file", JPEG, filename="p.jpg", content_type="image/jpeg")
        async with fresh.post(sb.url("/v2/my/files"), data=form, headers=_auth(sb)) as r:
            assert r.status in (500, 504)
        await asyncio.sleep(0.2)
        assert sb.uploads() == []


async def test_a_server_accepting_repeats_counts_them_instead_of_refusing(
    fresh: aiohttp.ClientSession,
) -> None:
    async with Sandbox(accept_repeats=True) as sb:
        sb.create_user("a@x.test")
        uuid, path = await _open_step(fresh, sb)
        first = await _submit(fresh, sb, uuid, path)
        again = await _submit(fresh, sb, uuid, path)
        assert (first[0], again[0]) == (200, 200)
        assert again[2] == first[2]  # where the procedure stands: the next step
        assert len(sb.submissions()) == 1
        assert len(sb.duplicates()) == 1
        with pytest.raises(AssertionError, match="duplicate"):
            sb.assert_each_step_submitted_once()


def test_kind_groups_and_round_trip() -> None:
    assert FaultKind.LATE_COMMIT in COMMIT_KINDS
    assert FaultKind.COMMIT_503 not in CLASSIC_KINDS
    # ``uniform`` keeps to the classic kinds unless told otherwise.
    table = Faults.uniform(0.2)._rates["*"]
    assert set(table) == set(CLASSIC_KINDS) - {FaultKind.SLOW}
    again = Faults.from_dict(Faults(late_commit_delay=0.7).to_dict())
    assert again.late_commit_delay == 0.7
    assert again.decide("submit", "u", 0) is None
    late = Faults().fail_next("submit", "late_commit").decide("submit", "u", 0)
    assert late is not None
    assert late.status in (500, 504)
