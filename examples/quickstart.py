"""Quickstart: verify a user with the documents in a folder.

    python examples/quickstart.py

With ``KYCFLOW_BASE_URL`` and ``KYCFLOW_TOKEN`` set it talks to that server; otherwise it
starts kycflow's sandbox on loopback and verifies a fresh sandbox user. ``KYCFLOW_DOCUMENTS``
names the folder (default: the sample documents shipped with kycflow). Files are matched to
the wizard's document types by name: ``passport.jpg`` is "Passport", ``selfie.jpg`` "Selfie".
"""

from __future__ import annotations

import asyncio
import os
from importlib import resources

import kycflow


async def verify(base_url: str, token: str, documents: str) -> kycflow.WizardResult:
    """Run the whole verification wizard for the user owning ``token``."""
    async with kycflow.Client(base_url, auth=kycflow.BearerToken(token)) as client:
        runner = kycflow.WizardRunner(client, kycflow.DirectoryProvider(documents))
        result = await runner.run()
        for step in result.steps:
            print(f"step {step.index}: {step.type_description} ({len(step.files)} file(s))")
        if result.succeeded:
            print("verification complete")
        else:  # the wizard's final step said done: false
            print(f"the wizard ended without success ({result.outcome})")
        return result


async def main() -> None:
    kycflow.configure_logging("WARNING")  # kycflow logs each request at debug level
    documents = os.environ.get("KYCFLOW_DOCUMENTS") or str(resources.files("kycflow") / "assets")
    base_url = os.environ.get("KYCFLOW_BASE_URL")
    if base_url:
        await verify(base_url, os.environ["KYCFLOW_TOKEN"], documents)
        return
    from kycflow.testing import Sandbox  # no server given: use the sandbox

    async with Sandbox() as sandbox:
        user = sandbox.create_user()
        await verify(sandbox.base_url, user.access_token, documents)


if __name__ == "__main__":
    asyncio.run(main())
