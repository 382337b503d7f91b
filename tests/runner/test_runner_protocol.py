"""How the runner reads the wizard: what ends it, and steps it cannot drive (fake client)."""

from __future__ import annotations

from typing import Any

import pytest
from runner_fakes import ALL_DOCS, FakeServer, UserState

from kycflow import UnsupportedWizardError, WizardRunner, WizardStep
from kycflow.wizard.events import Completed, WizardEvent


class _Shaped:
    """A fake wizard whose envelopes are rewritten by ``shape`` (start and submit replies)."""

    def __init__(self, server: FakeServer, shape: Any) -> None:
        inner = server.client()
        self.files = inner.files
        self.wizard = self
        self._inner = inner.wizard
        self._shape = shape

    async def start(self) -> WizardStep:
        step = await self._inner.start()
        return WizardStep.from_envelope(self._shape(step, "start"))

    async def submit(self, uuid: str, type_id: int, files: list[str]) -> WizardStep:
        step = await self._inner.submit(uuid, type_id, files)
        return WizardStep.from_envelope(self._shape(step, "submit"))


def _envelope(step: WizardStep, **changes: Any) -> dict[str, Any]:
    data = {"types": [t.model_dump() for t in step.types]}
    return {
        "code": step.code,
        "data": data,
        "done": step.done,
        "uuid": step.uuid,
        "workflow": step.workflow,
        **changes,
    }


async def test_done_true_on_the_start_call_ends_nothing() -> None:
    server = FakeServer()

    def initialised(step: WizardStep, call: str) -> dict[str, Any]:
        return _envelope(step, done=True) if step.code == 200 else _envelope(step)

    result = await WizardRunner(_Shaped(server, initialised), ALL_DOCS).run()  # type: ignore[arg-type]
    assert len(result.steps) == 3
    assert len(server.user().committed) == 3
    assert result.succeeded


async def test_a_final_202_with_done_false_is_not_a_success() -> None:
    server = FakeServer()
    events: list[WizardEvent] = []

    def unsuccessful(step: WizardStep, call: str) -> dict[str, Any]:
        return _envelope(step, done=False)

    runner = WizardRunner(_Shaped(server, unsuccessful), ALL_DOCS, on_event=events.append)  # type: ignore[arg-type]
    result = await runner.run()
    assert (result.outcome, result.done, result.succeeded) == (
        "ended_without_success",
        False,
        False,
    )
    assert len(result.steps) == 3
    completed = [e for e in events if isinstance(e, Completed)]
    assert [e.outcome for e in completed] == ["ended_without_success"]


async def test_a_step_without_any_document_type_is_unsupported() -> None:
    server = FakeServer(steps=[[]])
    state: UserState = server.user()
    state.done = False
    with pytest.raises(UnsupportedWizardError) as info:
        await WizardRunner(server.client(), ALL_DOCS).run()
    assert info.value.workflow == state.envelope()["workflow"]
    assert "no document types" in str(info.value)
    assert state.upload_calls == 0
