"""The sandbox fixtures without pytest-asyncio: each sandbox serves from its own thread."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from ._fixtures_common import as_scenario, sandbox_kwargs
from ._thread import run_in_thread
from .sandbox import Sandbox

__all__ = ["kycflow_sandbox", "kycflow_sandbox_factory", "threaded_factory", "threaded_sandbox"]


@contextlib.contextmanager
def threaded_sandbox(request: pytest.FixtureRequest) -> Iterator[Sandbox]:
    """The marker's sandbox, served from a background thread for the ``with`` block."""
    with run_in_thread(Sandbox(**sandbox_kwargs(request))) as sandbox:
        yield sandbox


@contextlib.contextmanager
def threaded_factory() -> Iterator[Callable[..., Sandbox]]:
    """``factory(scenario=None, **sandbox_kwargs)`` starting threaded sandboxes; all stop at
    the end of the ``with`` block."""
    with contextlib.ExitStack() as stack:

        def factory(scenario: Any = None, **kwargs: Any) -> Sandbox:
            return stack.enter_context(run_in_thread(Sandbox(as_scenario(scenario), **kwargs)))

        yield factory


@pytest.fixture
def kycflow_sandbox(request: pytest.FixtureRequest) -> Iterator[Sandbox]:
    """A sandbox running in a background thread (default scenario unless a marker says)."""
    with threaded_sandbox(request) as sandbox:
        yield sandbox


@pytest.fixture
def kycflow_sandbox_factory() -> Iterator[Callable[..., Sandbox]]:
    """``factory(scenario=None, **sandbox_kwargs)`` starts a threaded sandbox."""
    with threaded_factory() as factory:
        yield factory
