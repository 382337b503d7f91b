"""The sandbox fixtures on the test's event loop (registered when pytest-asyncio is active)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
import pytest_asyncio

from ._fixtures_common import as_scenario, sandbox_kwargs
from .sandbox import Sandbox

SandboxFactory = Callable[..., Awaitable[Sandbox]]


@pytest_asyncio.fixture
async def kycflow_sandbox(request: pytest.FixtureRequest) -> AsyncIterator[Sandbox]:
    """A running sandbox (default scenario unless a ``kycflow_scenario`` marker says)."""
    async with Sandbox(**sandbox_kwargs(request)) as sandbox:
        yield sandbox


@pytest_asyncio.fixture
async def kycflow_sandbox_factory() -> AsyncIterator[SandboxFactory]:
    """``await factory(scenario=None, **sandbox_kwargs)`` starts a sandbox; all stop at teardown."""
    started: list[Sandbox] = []

    async def factory(scenario: Any = None, **kwargs: Any) -> Sandbox:
        sandbox = Sandbox(as_scenario(scenario), **kwargs)
        await sandbox.start()
        started.append(sandbox)
        return sandbox

    try:
        yield factory
    finally:
        for sandbox in reversed(started):
            await sandbox.stop()
