"""Fixtures for the whole suite (pyproject.toml's ``pythonpath`` puts the shared helper modules
``fakeserver``, ``redis_fixtures`` on the path)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import structlog


@pytest.fixture(autouse=True)
def _restore_structlog() -> Iterator[None]:
    # Some tests configure structlog globally (the CLI does, by design). Restoring "configured
    # with the defaults" is not the same as "never configured": kycflow's logger sends events to
    # stdlib logging only in the latter state, so put back exactly what was there.
    was_configured = structlog.is_configured()
    saved = structlog.get_config()
    yield
    if was_configured:
        structlog.configure(**saved)
    else:
        structlog.reset_defaults()
