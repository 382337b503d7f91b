"""``kycflow demo``: a full verification against an in-process sandbox, nothing to set up."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import shutil
import tempfile
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

from ..client import Client
from ..resources.levels import PollPolicy
from ..wizard.providers import DirectoryProvider
from ..wizard.runner import WizardRunner
from ._arguments import Subparsers, add_common_arguments
from ._documents import DescribingProvider
from ._errors import EXIT_OK
from ._output import history_table, make_console, require_rich
from ._progress import ProgressView
from ._secrets import secrets

__all__ = ["handle", "register", "sample_documents"]

SECOND_FACTOR = "google"
REVIEW_DELAY = 2.0


def register(subparsers: Subparsers) -> None:
    """Add the ``demo`` subcommand."""
    parser = subparsers.add_parser(
        "demo",
        help="verify a sandbox user with the sample documents (no network, no setup)",
        description=(
            "Start the sandbox on a free loopback port, sign a new user in (email, password "
            "and a second factor), run the whole wizard with the sample documents shipped in "
            "the package, wait for the sandbox's simulated review to grant the level, and show the "
            "verification history."
        ),
    )
    add_common_arguments(parser)
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    """Run the demo."""
    require_rich()
    asyncio.run(_demo())
    return EXIT_OK


@contextlib.contextmanager
def sample_documents() -> Iterator[Path]:
    """The directory of sample documents shipped in the package (a temporary copy when the
    package is not on a file system, e.g. in a zip)."""
    assets = resources.files("kycflow") / "assets"
    if isinstance(assets, Path):
        yield assets
        return
    with tempfile.TemporaryDirectory(prefix="kycflow-assets-") as tmp:
        for item in assets.iterdir():
            if item.is_file():
                with item.open("rb") as src, open(Path(tmp) / item.name, "wb") as dst:
                    shutil.copyfileobj(src, dst)
        yield Path(tmp)


async def _demo() -> None:
    from ..testing import Review, Sandbox, Scenario

    console = make_console()
    scenario = dataclasses.replace(Scenario.default(), review=Review(delay=REVIEW_DELAY))
    async with Sandbox(scenario, host="127.0.0.1", port=0) as sandbox:
        user = sandbox.create_user(second_factor=SECOND_FACTOR)
        secrets.add(user.password)
        console.print(f"Sandbox API at [bold]{sandbox.base_url}[/bold]")

        async def second_factor(kind: str) -> str:
            console.print(f"The server asks for a second factor ({kind}): answering it")
            return user.code

        async with Client(sandbox.base_url) as client:
            session = await client.sign_in(user.email, user.password, second_factor=second_factor)
            console.print(
                f"Signed in as [bold]{user.email}[/bold] (email, password, {SECOND_FACTOR})"
            )
            alice = client.with_auth(session)
            with sample_documents() as folder:
                provider = DescribingProvider(DirectoryProvider(folder))
                console.print(f"Documents: {', '.join(sorted(p.name for p in folder.iterdir()))}")
                with ProgressView(console, provider.describe) as view:
                    await WizardRunner(alice, provider, on_event=view.on_event).run()
            with console.status(f"Waiting for the sandbox's review (about {REVIEW_DELAY:g} s)"):
                granted = await alice.verifications.wait_for_level(
                    "Level 1", timeout=30, poll=PollPolicy(initial=0.5, maximum=1.0)
                )
            level = granted.current_level.name if granted.current_level else "?"
            console.print(f"Level granted: [bold]{level}[/bold] (verification {granted.id})")
            page = await alice.verifications.list(limit=10, sort_by="createTime", sort_order="desc")
        console.print(history_table(page))
