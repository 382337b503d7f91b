"""What both fixture flavours share: reading the ``kycflow_scenario`` marker."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from .scenario import Scenario

MARKER = "kycflow_scenario"


def sandbox_kwargs(request: pytest.FixtureRequest) -> dict[str, Any]:
    """Sandbox keyword arguments from the closest ``kycflow_scenario`` marker.

    The marker's first argument is a ``Scenario``, a scenario dict, or a JSON/TOML file path;
    its keyword arguments (``faults=...``, ``access_token_ttl=...``) go to ``Sandbox``.
    """
    marker = request.node.get_closest_marker(MARKER)
    if marker is None:
        return {}
    kwargs = dict(marker.kwargs)
    if marker.args:
        kwargs["scenario"] = as_scenario(marker.args[0])
    elif "scenario" in kwargs:
        kwargs["scenario"] = as_scenario(kwargs["scenario"])
    return kwargs


def as_scenario(value: Any) -> Scenario | None:
    """A Scenario from a Scenario, a dict, a path, or None."""
    if value is None or isinstance(value, Scenario):
        return value
    if isinstance(value, dict):
        return Scenario.from_dict(value)
    if isinstance(value, str | Path):
        return Scenario.load(value)
    raise TypeError(f"{MARKER} takes a Scenario, a dict or a file path, not {type(value)!r}")
