"""The runner over the real client against the suite's scripted fake server: the exact
requests, in order, for each wizard path (the other modules prove the outcomes on the sandbox)."""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from e2ekit import ASSETS
from fakeserver import FakeServer, drop, error

import kycflow

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


UP, SUB, GET = ("POST", FILES), ("POST", SUBMIT), ("GET", WIZARD)
FINAL = {"code": 202, "data": {"types": []}, "done": True, "uuid": UUID, "workflow": FINAL_WORKFLOW}


DISCONNECT = "disconnect"  # the server reads the request, then closes without a reply


class ScriptedAPI:
    """Replies per route from a script; the fake server logs every request in order."""

    def __init__(self, fake: FakeServer) -> None:
        self.fake = fake
        self.script: dict[tuple[str, str], deque[Any]] = {GET: deque(), SUB: deque()}
        self._uploads = 0
        fake.route(*GET, self._reply)
        fake.route(*SUB, self._reply)
        fake.route(*UP, self._upload)

    def on(self, method: str, path: str, *replies: Any) -> None:
        self.script[(method, path)].extend(replies)

    async def _reply(self, request: web.Request) -> web.StreamResponse:
        reply = self.script[(request.method, request.path.removeprefix("/api"))].popleft()
        if reply == DISCONNECT:
            return await drop()(request)
        if isinstance(reply, int):
            return await error(reply)(request)
        return web.json_response(reply)

    async def _upload(self, request: web.Request) -> web.StreamResponse:
        await request.read()
        self._uploads += 1
        return web.json_response({"data": {"file": f"u1/{self._uploads}"}}, status=201)

    def calls(self) -> list[tuple[str, str]]:
        return [(s.method, s.path) for s in self.fake.seen]

    def body(self, index: int) -> Any:
        return self.fake.seen[index].json()

    def submitted(self) -> list[tuple[int, list[str]]]:
        bodies = [s.json()["data"]["documents"] for s in self.fake.requests_to(*SUB)]
        return [(d["type"], d["files"]) for d in bodies]


@pytest.fixture
def reading() -> None:
    """The sandbox's readings do not apply here: this module scripts its own replies."""


@pytest.fixture
async def api() -> AsyncIterator[ScriptedAPI]:
    async with FakeServer() as fake:
        yield ScriptedAPI(fake)


def provider(*type_ids: int) -> kycflow.MemoryProvider:
    return kycflow.MemoryProvider({i: DOCS[i] for i in type_ids})


async def run(api: ScriptedAPI, prov: kycflow.FileProvider) -> kycflow.WizardResult:
    client = kycflow.Client(
        api.fake.base_url, auth=kycflow.BearerToken("t0ken"), timeout=5.0, initial_backoff=0.01
    )
    async with client:
        return await kycflow.WizardRunner(client, prov).run()


async def test_three_step_flow(api: ScriptedAPI) -> None:
    api.on(*GET, step(PASSPORT, ID_CARD))
    api.on(*SUB, step(SELFIE), step(ADDRESS), FINAL)
    result = await run(api, provider(1, 2, 3, 4))
    assert result.done
    assert [s.type_id for s in result.steps] == [2, 3, 4]
    assert api.calls() == [GET, UP, SUB, UP, SUB, UP, SUB]
    assert api.submitted() == [(2, ["u1/1"]), (3, ["u1/2"]), (4, ["u1/3"])]
    assert api.body(2) == {"data": {"documents": {"type": 2, "files": ["u1/1"]}, "uuid": UUID}}


async def test_alternatives(api: ScriptedAPI) -> None:
    api.on(*GET, step(PASSPORT, ID_CARD))
    api.on(*SUB, FINAL)
    result = await run(api, provider(1, 3, 4))  # no passport: the ID card is the alternative
    assert [s.type_id for s in result.steps] == [1]
    assert api.calls() == [GET, UP, SUB]
    assert api.submitted() == [(1, ["u1/1"])]


async def test_final_step_on_the_first_call(api: ScriptedAPI) -> None:
    api.on(
        *GET, {"code": 202, "data": None, "done": True, "uuid": UUID, "workflow": FINAL_WORKFLOW}
    )
    result = await run(api, provider(1, 2, 3, 4))
    assert result.done
    assert result.steps == ()
    assert api.calls() == [GET]


async def test_missing_documents(api: ScriptedAPI) -> None:
    api.on(*GET, step(PASSPORT, ID_CARD))
    api.on(*SUB, step(SELFIE))
    with pytest.raises(kycflow.MissingDocumentError) as info:
        await run(api, provider(2, 4))
    assert [t.id for t in info.value.requested] == [3]
    assert "Selfie" in str(info.value)
    assert api.calls() == [GET, UP, SUB]  # nothing for the selfie step


async def test_ambiguous_submit_that_committed_is_not_sent_again(api: ScriptedAPI) -> None:
    api.on(*GET, step(PASSPORT, ID_CARD), step(SELFIE))  # the re-read shows the next step
    api.on(*SUB, DISCONNECT, FINAL)
    result = await run(api, provider(2, 3))
    assert result.done
    assert [s.reconciled for s in result.steps] == [True, False]
    assert api.calls() == [GET, UP, SUB, GET, UP, SUB]
    assert api.submitted() == [(2, ["u1/1"]), (3, ["u1/2"])]  # one submit per step


@pytest.mark.parametrize("failure", [DISCONNECT, 500], ids=["disconnect", "500"])
async def test_ambiguous_submit_that_did_not_commit_is_sent_again_once(
    api: ScriptedAPI, failure: Any
) -> None:
    api.on(*GET, step(PASSPORT, ID_CARD), step(PASSPORT, ID_CARD))  # the same step again
    api.on(*SUB, failure, FINAL)
    result = await run(api, provider(2))
    assert result.done
    assert result.retries == 1
    assert api.calls() == [GET, UP, SUB, GET, SUB]
    # Resent with the same stored file and type: no second upload.
    assert api.submitted() == [(2, ["u1/1"]), (2, ["u1/1"])]
