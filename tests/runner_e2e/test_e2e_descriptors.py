"""Document file descriptors with ``DirectoryProvider`` on disk: at most ``upload_concurrency``
open at once, none while a submit is in flight (issue 14's "open file descriptors bounded by
the upload concurrency, none held across a submit")."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import pytest
from e2ekit import ASSETS, assert_committed_once, make_client

import kycflow
from kycflow.testing import DocType, Faults, LevelSpec, Sandbox, Scenario, Step

FILES = 5
# Over 1 MiB: such a file is streamed from disk during its upload (its descriptor open
# meanwhile), not read whole beforehand.
PADDING = 2 * 1024 * 1024


def open_under(root: Path) -> int:
    """Descriptors of this process open on files under ``root``."""
    prefix = str(root.resolve()) + os.sep
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{fd}").startswith(prefix):
                count += 1
        except OSError:
            continue
    return count


class Watched:
    """The runner's client protocol over a real client, sampling the document descriptors
    open while each upload and each submit is in flight."""

    def __init__(self, client: kycflow.Client, root: Path) -> None:
        self._client = client
        self._root = root
        self.during_uploads: list[int] = []
        self.during_submits: list[int] = []

    @property
    def wizard(self) -> Watched:
        return self

    @property
    def files(self) -> Watched:
        return self

    async def start(self) -> kycflow.WizardStep:
        return await self._client.wizard.start()

    async def validate(self, document: kycflow.Document) -> kycflow.Document:
        return await self._client.files.validate(document)

    async def _sampled(self, call: Any, peaks: list[int]) -> Any:
        """``await call``, appending to ``peaks`` the most descriptors seen meanwhile (also
        when it raises: an empty 2xx reply to a submit is an unknown outcome)."""
        task = asyncio.ensure_future(call)
        peak = open_under(self._root)
        try:
            while not task.done():
                await asyncio.sleep(0.001)
                peak = max(peak, open_under(self._root))
        finally:
            peaks.append(peak)
        return task.result()

    async def upload(self, document: kycflow.Document, /) -> str:
        return str(await self._sampled(self._client.files.upload(document), self.during_uploads))

    async def submit(
        self, uuid: str, document_type_id: int, files: list[str], /
    ) -> kycflow.WizardStep:
        call = self._client.wizard.submit(uuid, document_type_id, files)
        step: kycflow.WizardStep = await self._sampled(call, self.during_submits)
        return step


@pytest.mark.parametrize("concurrency", [1, 2])
async def test_descriptors_are_bounded_by_the_upload_concurrency_and_closed_for_the_submit(
    tmp_path: Path, concurrency: int
) -> None:
    scenario = Scenario(
        levels=(LevelSpec(1, "Level 0"), LevelSpec(2, "Level 1")),
        initial_level=1,
        steps=(Step(types=(DocType(1, "ID card", min_files=FILES),)),),
    )
    jpeg = (ASSETS / "id_card.jpg").read_bytes()
    for number in range(1, FILES + 1):
        (tmp_path / f"id_card_{number}.jpg").write_bytes(jpeg + b"\0" * PADDING)
    # Every request is answered 50 ms late, so each upload's stream is open for a while.
    faults = Faults(rates={"upload": {"slow": 1.0}, "submit": {"slow": 1.0}}, slow_delay=0.05)
    async with Sandbox(scenario, faults=faults) as sb:
        user = sb.create_user()
        async with make_client(sb, user) as client:
            watched = Watched(client, tmp_path)
            result = await kycflow.WizardRunner(
                watched, kycflow.DirectoryProvider(tmp_path), upload_concurrency=concurrency
            ).run()
        assert result.done is True
        assert len(result.steps[0].files) == FILES
        assert_committed_once(sb, user)
    # The sampling saw the streams (else it proves nothing), never more than the bound.
    assert len(watched.during_uploads) >= FILES
    assert 1 <= max(watched.during_uploads) <= concurrency
    assert watched.during_submits  # one at least
    assert set(watched.during_submits) == {0}
    assert open_under(tmp_path) == 0
