"""The suite's fake clock for the runner's waits (``WizardRunner(sleep=clock.sleep)`` or the
runner tests' autouse fixture): records every wait and returns at once, never really sleeping."""

from __future__ import annotations

import asyncio


class FakeClock:
    """Records each requested wait in ``waits``; yields to the loop once instead of sleeping."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def sleep(self, delay: float) -> None:
        self.waits.append(delay)
        await asyncio.sleep(0)
