"""Helpers of the runner's end-to-end tests: sample documents, clients, sandbox assertions."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import kycflow
from kycflow.testing import Sandbox, SandboxUser, Scenario


@dataclass(frozen=True)
class Reading:
    """One reading of the wizard envelope (NOTES.md) the sandbox can speak."""

    name: str
    submit_reply: str
    start_done: bool

    def apply(self, scenario: Scenario) -> Scenario:
        """``scenario`` speaking this reading (its other quirks kept)."""
        quirks = dataclasses.replace(
            scenario.quirks, submit_reply=self.submit_reply, start_done=self.start_done
        )
        return dataclasses.replace(scenario, quirks=quirks)

    def page_reads(self, answered: int) -> int:
        """Wizard reads a runner makes to learn the next page after ``answered`` submits that
        got a reply (the last of them the final step's)."""
        if self.submit_reply == "next_step":
            return 0
        if self.submit_reply == "echo":
            return max(answered - 1, 0)  # the final 202 ends the wizard itself
        return answered  # an empty reply says nothing, the final one included


# Every reading of the submit reply, each with one of the two readings of the start's ``done``.
READINGS = (
    Reading("echo", "echo", True),
    Reading("next_step", "next_step", False),
    Reading("empty_202", "empty_202", True),
    Reading("empty_204", "empty_204", False),
)

ASSETS = Path(kycflow.__file__).resolve().parent / "assets"
SAMPLES = ("passport.jpg", "id_card.jpg", "selfie.jpg", "proof_of_address.pdf")


def copy_assets(target: Path, source: Path, names: Iterable[str] = SAMPLES) -> Path:
    """Copy sample documents ``names`` from ``source`` into ``target`` (created)."""
    target.mkdir(parents=True, exist_ok=True)
    for name in names:
        shutil.copyfile(source / name, target / name)
    return target


def make_client(sb: Sandbox, user: SandboxUser | None = None, **kwargs: Any) -> kycflow.Client:
    """A real client of the sandbox with short timeouts and backoff (bounded tests)."""
    if user is not None:
        kwargs.setdefault("auth", kycflow.BearerToken(user.access_token))
    kwargs.setdefault("timeout", 5.0)
    kwargs.setdefault("initial_backoff", 0.01)
    kwargs.setdefault("max_backoff", 0.05)
    kwargs.setdefault("max_retry_after", 0.1)
    return kycflow.Client(sb.base_url, **kwargs)


def assert_committed_once(sb: Sandbox, user: SandboxUser, *, procedures: int = 1) -> None:
    """Every step of ``procedures`` procedures committed exactly once, no duplicate."""
    sb.assert_each_step_submitted_once([user.email])
    assert sb.duplicates(user) == []
    subs = sb.submissions(user)
    assert len(subs) == procedures * len(sb.scenario.steps)
    assert len(sb.completed_procedures(user)) == procedures


def submits(sb: Sandbox, user: SandboxUser) -> list[Any]:
    """The submit requests the sandbox saw from ``user`` (answered or reset)."""
    return sb.requests(route="submit", user=user.email)


def open_fds_to(path: Path) -> int:
    """How many of this process's file descriptors point at ``path``."""
    target = str(path.resolve())
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{fd}") == target:
                count += 1
        except OSError:
            continue
    return count


async def wait_all_closed(paths: Iterable[Path]) -> None:
    """Wait (5 s at most) until no descriptor of this process points at any of ``paths``."""
    wanted = list(paths)
    for _ in range(500):
        if not any(open_fds_to(p) for p in wanted):
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"still open: {[p.name for p in wanted if open_fds_to(p)]}")
