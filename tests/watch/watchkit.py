"""Helpers of the watch tests: sandbox users who finish the wizard, fake clocks."""

from __future__ import annotations

import kycflow
from kycflow.testing import Sandbox

JPEG = b"\xff\xd8\xff\xe0" + b"\x00\x10JFIF\x00" + bytes(range(256)) * 8
PDF = b"%PDF-1.4\n" + b"0" * 2000 + b"\n%%EOF\n"
PROVIDER = kycflow.MemoryProvider({2: JPEG, 1: [JPEG, JPEG], 3: JPEG, 4: ("address.pdf", PDF)})


def client_for(sb: Sandbox, **kwargs: object) -> kycflow.Client:
    """A client of the sandbox (plain http to loopback is allowed)."""
    return kycflow.Client(sb.base_url, **kwargs)  # type: ignore[arg-type]


async def finish_wizard(client: kycflow.Client, token: str) -> kycflow.WizardResult:
    """Run the whole wizard for the user holding ``token``."""
    view = client.with_auth(kycflow.BearerToken(token))
    return await kycflow.WizardRunner(view, PROVIDER).run()


class FakeClock:
    """A monotonic clock that only moves when ``sleep`` is awaited."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, delay: float) -> None:
        self.sleeps.append(delay)
        self.now += delay
