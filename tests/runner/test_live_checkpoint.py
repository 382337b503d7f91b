"""The run's own checkpoint objects against the public ``Checkpoint`` a store sees."""

from __future__ import annotations

from runner_fakes import ALL_DOCS, FakeServer

from kycflow import Checkpoint, MemoryCheckpointStore, WizardRunner
from kycflow.checkpoint import CompletedStep, StepInProgress, UploadedFile
from kycflow.wizard.state import LiveCheckpoint


class KeepingStore:
    """A store that keeps the very objects it is given (it serialises nothing)."""

    def __init__(self) -> None:
        self.saved: list[Checkpoint] = []
        self.dumps: list[str] = []

    async def load(self, key: str) -> Checkpoint | None:
        return None

    async def save(self, key: str, checkpoint: Checkpoint) -> None:
        self.saved.append(checkpoint)
        self.dumps.append(checkpoint.model_dump_json())

    async def delete(self, key: str) -> None:
        return None


async def test_a_store_gets_checkpoints_later_progress_never_changes() -> None:
    server = FakeServer()
    store = KeepingStore()
    result = await WizardRunner(
        server.client(), ALL_DOCS, checkpoint_store=store, checkpoint_key="k"
    ).run()
    assert result.done
    assert all(type(cp) is Checkpoint for cp in store.saved)
    # Each object still says what it said when it was saved: no list is shared with the run.
    assert [cp.model_dump_json() for cp in store.saved] == store.dumps
    assert len({id(cp) for cp in store.saved}) == len(store.saved)
    last = store.saved[-1]
    assert last.done
    assert last.current is None
    assert last.key == "k"
    assert [s.files for s in last.steps] == [list(s.files) for s in result.steps]
    in_flight = [cp for cp in store.saved if cp.submit_in_flight]
    assert len(in_flight) == 3  # one save before each of the three submits
    assert all(cp.current is not None and cp.current.uploads for cp in in_flight)


def test_a_stored_checkpoint_comes_back_whole() -> None:
    stored = Checkpoint(
        key="k",
        run_id="r1",
        uuid="u-1",
        steps=[CompletedStep(type_id=2, type_description="Passport", files=["/a"])],
        current=StepInProgress(
            signature='["u-1",200,"",[1,3]]',
            type_id=3,
            type_description="Selfie",
            uploads=[UploadedFile(index=0, name="selfie.jpg", path="/b")],
            submit_in_flight=True,
            submitted_files=["/b"],
        ),
    )
    live = LiveCheckpoint.of(stored)
    assert live.to_checkpoint() == stored
    assert live.current is not None
    assert live.current.uploaded_path(0, "selfie.jpg") == "/b"
    assert live.current.uploaded_path(0, "other.jpg") is None
    # The live lists are its own: editing them leaves the stored checkpoint as it was.
    live.steps[0].files.append("/c")
    live.current.submitted_files.clear()
    assert stored.steps[0].files == ["/a"]
    assert stored.current is not None
    assert stored.current.submitted_files == ["/b"]
    again = live.to_checkpoint()
    assert again.steps[0].files == ["/a", "/c"]
    live.steps[0].files.append("/d")
    assert again.steps[0].files == ["/a", "/c"]


class TenantCheckpoint(Checkpoint):
    """A user's own checkpoint type, with a field of its own."""

    tenant: str = ""


class HandingBackStore(KeepingStore):
    """Hands back one checkpoint saved by a newer writer, in the user's own type."""

    def __init__(self, loaded: Checkpoint) -> None:
        super().__init__()
        self.loaded = loaded

    async def load(self, key: str) -> Checkpoint | None:
        return self.loaded


async def test_a_resumed_run_saves_the_loaded_type_version_and_fields() -> None:
    server = FakeServer()
    first = MemoryCheckpointStore()
    crashed = WizardRunner(server.client(), ALL_DOCS, checkpoint_store=first, checkpoint_key="k")
    await crashed.run()
    begun = Checkpoint.model_validate(first.dump()["k"])
    begun.done = False  # as if it had stopped after its steps: the run picks it up
    loaded = TenantCheckpoint.model_validate({**begun.model_dump(), "version": 2, "tenant": "a"})
    store = HandingBackStore(loaded)
    result = await WizardRunner(
        server.client(), ALL_DOCS, checkpoint_store=store, checkpoint_key="k"
    ).run()
    assert result.done
    assert store.saved
    assert all(type(cp) is TenantCheckpoint for cp in store.saved)
    assert {(cp.version, cp.tenant) for cp in store.saved} == {(2, "a")}
    assert loaded.done is False  # the store's own object is never changed
