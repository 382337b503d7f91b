"""The same behaviours via aioresponses (also covered on loopback; deselected on aiohttp 3.14)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from aioresponses import aioresponses
from corekit import JPEG, envelope, load_fixture, make_client

import kycflow
from kycflow import errors as e

pytestmark = pytest.mark.aioresponses

BASE = "https://api.example.test/api"
WIZARD = BASE + "/v2/my/verifications/wizard"
SUBMIT = BASE + "/v2/my/verifications"


@pytest.fixture
def mocked() -> Iterator[aioresponses]:
    with aioresponses() as m:
        yield m


@pytest.fixture
async def client() -> AsyncIterator[kycflow.Client]:
    async with make_client(BASE) as c:
        yield c


def calls(m: aioresponses, method: str, url: str) -> int:
    return sum(len(v) for (meth, u), v in m.requests.items() if meth == method and str(u) == url)


async def test_endpoints_happy_path(
    mocked: aioresponses, client: kycflow.Client, tmp_path: Path
) -> None:
    mocked.get(
        re.compile(re.escape(SUBMIT) + r"\?.*"), payload=load_fixture("verifications_history.json")
    )
    mocked.get(SUBMIT + "/18", payload=load_fixture("verification_details.json"))
    mocked.get(WIZARD, payload=load_fixture("wizard_start.json"))
    mocked.post(BASE + "/v2/my/files", payload={"data": {"file": "u/a.jpg"}})
    mocked.post(SUBMIT, payload=load_fixture("wizard_submit_reply.json"))
    page = await client.verifications.list(limit=2, offset=0)
    assert page.total == 2
    assert (await client.verifications.get(18)).id == 18
    assert (await client.wizard.start()).types[0].id == 2
    path = tmp_path / "a.jpg"
    path.write_bytes(JPEG)
    assert await client.files.upload(path) == "u/a.jpg"
    assert (await client.wizard.submit("u", 2, ["u/a.jpg"])).is_final


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, e.BadRequestError),
        (401, e.AuthenticationError),
        (403, e.PermissionDeniedError),
        (404, e.NotFoundError),
        (409, e.ConflictError),
        (422, e.BadRequestError),
        (418, e.APIStatusError),
    ],
)
async def test_status_to_error(
    mocked: aioresponses, client: kycflow.Client, status: int, cls: type[e.APIStatusError]
) -> None:
    mocked.get(WIZARD, status=status, payload={"error": {"message": "m"}})
    with pytest.raises(cls) as info:
        await client.wizard.start()
    assert info.value.status == status


async def test_retry_on_503_then_success(mocked: aioresponses, client: kycflow.Client) -> None:
    mocked.get(WIZARD, status=503)
    mocked.get(WIZARD, payload=envelope())
    assert (await client.wizard.start()).uuid == "wiz-1"
    assert calls(mocked, "GET", WIZARD) == 2


async def test_post_500_outcome_unknown_one_request(
    mocked: aioresponses, client: kycflow.Client
) -> None:
    mocked.post(SUBMIT, status=500, repeat=True)
    with pytest.raises(e.OutcomeUnknownError):
        await client.wizard.submit("u", 2, ["u/a.jpg"])
    assert calls(mocked, "POST", SUBMIT) == 1


async def test_429_retry_after_honoured(mocked: aioresponses, client: kycflow.Client) -> None:
    slept: list[float] = []

    async def fake_sleep(delay: float) -> None:
        slept.append(delay)

    client.transport._sleep = fake_sleep
    mocked.get(WIZARD, status=429, headers={"Retry-After": "7"})
    mocked.get(WIZARD, payload=envelope())
    await client.wizard.start()
    assert slept == [7.0]


async def test_429_never_stops(mocked: aioresponses, client: kycflow.Client) -> None:
    mocked.get(WIZARD, status=429, headers={"Retry-After": "0"}, repeat=True)
    with pytest.raises(e.RateLimitError):
        await client.wizard.start(max_retries=3)
    assert calls(mocked, "GET", WIZARD) == 4
