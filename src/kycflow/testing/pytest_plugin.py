"""kycflow's pytest plugin (loaded through the ``pytest11`` entry point).

Fixtures: ``kycflow_sandbox`` (a running sandbox, function scope) and
``kycflow_sandbox_factory`` (start sandboxes with custom scenarios and faults). The marker
``@pytest.mark.kycflow_scenario(scenario, faults=..., **sandbox_kwargs)`` configures
``kycflow_sandbox``.

With pytest-asyncio active, an ``async def`` test's sandbox runs on the test's event loop and a
plain ``def`` test's serves from a background thread. Without it every sandbox serves from a
background thread. pytest-asyncio is imported only when
it is active, so installing kycflow never breaks a run that does not use it.
"""

from __future__ import annotations

import pytest

from ._fixtures_common import MARKER

__all__ = ["pytest_configure"]


def pytest_configure(config: pytest.Config) -> None:
    """Register the marker and the fixture flavour that fits the run."""
    config.addinivalue_line(
        "markers",
        f"{MARKER}(scenario=None, *, faults=None, **sandbox_kwargs): configure the "
        "kycflow_sandbox fixture (a Scenario, a dict, or a JSON/TOML file path)",
    )
    if config.pluginmanager.has_plugin("asyncio"):
        config.pluginmanager.import_plugin("kycflow.testing._fixtures_async")
    else:
        config.pluginmanager.import_plugin("kycflow.testing._fixtures_thread")
