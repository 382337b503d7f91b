"""The runner over the real client with scripted replies (aioresponses): the exact requests.

The same behaviours are proven on the loopback sandbox in the other modules; this module is
deselected where aioresponses does not work (aiohttp 3.14)."""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest
from aioresponses import CallbackResult, aioresponses
from e2ekit import ASSETS
from yarl import URL

import kycflow

pytestmark = pytest.mark.aioresponses

BASE = "https://api.example.test/api"
WIZARD = "/v2/my/verifications/wizard"
SUBMIT = "/v2/my/verifications"
FILES = "/v2/my/files"
UUID = "36f59381-5b54-48bd-a0c7-3b908c476732"
STEP_WORKFLOW = "B2B\\TCA\\Wizards\\Workflow\\VerificationWorkflow"
FINAL_WORKFLOW = "B2B\\TCA\\Wizards\\Workflow\\TerminateWorkflow"

PASSPORT = (2, "Passport")
ID_CARD = (1, "ID card")
SELFIE = (3, "Selfie")
ADDRESS = (4, "Proof of address")

DOCS = {
    2: ("passport.jpg", (ASSETS / "passport.jpg").read_bytes()),
    1: ("id_card.jpg", (ASSETS / "id_card.jpg").read_bytes()),
    3: ("selfie.jpg", (ASSETS / "selfie.jpg").read_bytes()),
    4: ("proof_of_address.pdf", (ASSETS / "proof_of_address.pdf").read_bytes()),
}


def step(*types: tuple[int, str]) -> dict[str, Any]:
    """An intermediary step (code 200) asking for ``types``, in this order."""
    data = [
        {"id": i, "description": d, "enabled": True, "example": "", "group": {}} for i, d in types
    ]
    return {
        "code": 200,
        "data": {"types": data},
        "done": False,
        "uuid": UUID,
        "workflow": STEP_WORKFLOW,
    }


FINAL = {"code": 202, "data": {"types": []}, "done": True, "uuid": UUID, "workflow": FINAL_WORKFLOW}


class ScriptedAPI:
    """Replies per route from a script, and the log of every request in order."""

    def __init__(self, mocked: aioresponses) -> None:
        self.script: dict[tuple[str, str], deque[Any]] = {}
        self.log: list[tuple[str, str, Any]] = []
        self._uploads = 0
        for method, path in (("GET", WIZARD), ("POST", SUBMIT)):
            self.script[(method, path)] = deque()
            mocked.add(BASE + path, method, callback=self._reply, repeat=True)
        mocked.add(BASE + FILES, "POST", callback=self._upload, repeat=True)

    def on(self, method: str, path: str, *replies: Any) -> None:
        self.script[(method, path)].extend(replies)

    def _reply(self, url: URL, **kwargs: Any) -> CallbackResult:
        method = "GET" if kwargs.get("data") is None else "POST"
        path = url.path.removeprefix("/api")
        body = None if kwargs.get("data") is None else json.loads(kwargs["data"])
        self.log.append((method, path, body))
        reply = self.script[(method, path)].popleft()
        if isinstance(reply, BaseException):
            raise reply
        if isinstance(reply, int):
            return CallbackResult(status=reply, payload={"error": {"message": "boom"}})
        return CallbackResult(status=200, payload=reply)

    def _upload(self, url: URL, **kwargs: Any) -> CallbackResult:
        self._uploads += 1
        self.log.append(("POST", FILES, None))
        return CallbackResult(status=201, payload={"data": {"file": f"u1/{self._uploads}"}})

    def calls(self) -> list[tuple[str, str]]:
        return [(method, path) for method, path, _ in self.log]

    def submitted(self) -> list[tuple[int, list[str]]]:
        return [
            (body["data"]["documents"]["type"], body["data"]["documents"]["files"])
            for method, path, body in self.log
            if (method, path) == ("POST", SUBMIT)
        ]


@pytest.fixture
def api() -> Iterator[ScriptedAPI]:
    with aioresponses() as mocked:
        yield ScriptedAPI(mocked)


def provider(*type_ids: int) -> kycflow.MemoryProvider:
    return kycflow.MemoryProvider({i: DOCS[i] for i in type_ids})


async def run(prov: kycflow.FileProvider) -> kycflow.WizardResult:
    client = kycflow.Client(
        BASE, auth=kycflow.BearerToken("t0ken"), timeout=5.0, initial_backoff=0.01
    )
    async with client:
        return await kycflow.WizardRunner(client, prov).run()


UP, SUB, GET = ("POST", FILES), ("POST", SUBMIT), ("GET", WIZARD)


async def test_three_step_flow(api: ScriptedAPI) -> None:
    api.on(*GET, step(PASSPORT, ID_CARD))
    api.on(*SUB, step(SELFIE), step(ADDRESS), FINAL)
    result = await run(provider(1, 2, 3, 4))
    assert result.done
    assert [s.type_id for s in result.steps] == [2, 3, 4]
    assert api.calls() == [GET, UP, SUB, UP, SUB, UP, SUB]
    assert api.submitted() == [(2, ["u1/1"]), (3, ["u1/2"]), (4, ["u1/3"])]
    (_, _, body) = api.log[2]
    assert body == {"data": {"documents": {"type": 2, "files": ["u1/1"]}, "uuid": UUID}}


async def test_alternatives(api: ScriptedAPI) -> None:
    api.on(*GET, step(PASSPORT, ID_CARD))
    api.on(*SUB, FINAL)
    result = await run(provider(1, 3, 4))  # no passport: the ID card is the alternative
    assert [s.type_id for s in result.steps] == [1]
    assert api.calls() == [GET, UP, SUB]
    assert api.submitted() == [(1, ["u1/1"])]


async def test_final_step_on_the_first_call(api: ScriptedAPI) -> None:
    api.on(
        *GET, {"code": 202, "data": None, "done": True, "uuid": UUID, "workflow": FINAL_WORKFLOW}
    )
    result = await run(provider(1, 2, 3, 4))
    assert result.done
    assert result.steps == ()
    assert api.calls() == [GET]


async def test_missing_documents(api: ScriptedAPI) -> None:
    api.on(*GET, step(PASSPORT, ID_CARD))
    api.on(*SUB, step(SELFIE))
    with pytest.raises(kycflow.MissingDocumentError) as info:
        await run(provider(2, 4))
    assert [t.id for t in info.value.requested] == [3]
    assert "Selfie" in str(info.value)
    assert api.calls() == [GET, UP, SUB]  # nothing for the selfie step


async def test_ambiguous_submit_that_committed_is_not_sent_again(api: ScriptedAPI) -> None:
    api.on(*GET, step(PASSPORT, ID_CARD), step(SELFIE))  # the re-read shows the next step
    api.on(*SUB, aiohttp.ServerDisconnectedError(), FINAL)
    result = await run(provider(2, 3))
    assert result.done
    assert [s.reconciled for s in result.steps] == [True, False]
    assert api.calls() == [GET, UP, SUB, GET, UP, SUB]
    assert api.submitted() == [(2, ["u1/1"]), (3, ["u1/2"])]  # one submit per step


@pytest.mark.parametrize(
    "failure", [aiohttp.ServerDisconnectedError(), 500], ids=["disconnect", "500"]
)
async def test_ambiguous_submit_that_did_not_commit_is_sent_again_once(
    api: ScriptedAPI, failure: Any
) -> None:
    api.on(*GET, step(PASSPORT, ID_CARD), step(PASSPORT, ID_CARD))  # the same step again
    api.on(*SUB, failure, FINAL)
    result = await run(provider(2))
    assert result.done
    assert result.retries == 1
    assert api.calls() == [GET, UP, SUB, GET, SUB]
    # Resent with the same stored file and type: no second upload.
    assert api.submitted() == [(2, ["u1/1"]), (2, ["u1/1"])]
