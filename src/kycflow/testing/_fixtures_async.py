"""The sandbox fixtures when pytest-asyncio is active.

An ``async def`` test gets a sandbox on its own event loop. A plain ``def`` test gets one served
from a background thread instead: the test's loop is not running while a sync test runs, so a
sandbox started on it would accept connections and never answer them.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import pytest
import pytest_asyncio

from ._fixtures_common import as_scenario, sandbox_kwargs
from ._fixtures_thread import threaded_factory, threaded_sandbox
from .sandbox import Sandbox

SandboxFactory = Callable[..., Awaitable[Sandbox]]


def _is_async_test(request: pytest.FixtureRequest) -> bool:
    function = getattr(request.node, "obj", None)
    return function is not None and inspect.iscoroutinefunction(inspect.unwrap(function))


@pytest.fixture
def kycflow_sandbox(request: pytest.FixtureRequest) -> Iterator[Sandbox]:
    """A running sandbox (default scenario unless a ``kycflow_scenario`` marker says): on the
    test's event loop for an ``async def`` test, in a background thread for a ``def`` test."""
    if _is_async_test(request):
        yield request.getfixturevalue("_kycflow_sandbox_on_loop")
        return
    with threaded_sandbox(request) as sandbox:
        yield sandbox


@pytest.fixture
def kycflow_sandbox_factory(request: pytest.FixtureRequest) -> Iterator[Any]:
    """``await factory(scenario=None, **sandbox_kwargs)`` in an ``async def`` test;
    ``factory(...)`` (no await, threaded sandboxes) in a ``def`` test. All stop at teardown."""
    if _is_async_test(request):
        yield request.getfixturevalue("_kycflow_sandbox_factory_on_loop")
        return
    with threaded_factory() as factory:
        yield factory


@pytest_asyncio.fixture
async def _kycflow_sandbox_on_loop(request: pytest.FixtureRequest) -> AsyncIterator[Sandbox]:
    async with Sandbox(**sandbox_kwargs(request)) as sandbox:
        yield sandbox


@pytest_asyncio.fixture
async def _kycflow_sandbox_factory_on_loop() -> AsyncIterator[SandboxFactory]:
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
