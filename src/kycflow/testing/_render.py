"""How the sandbox renders its state as the API's JSON: timestamps, tokens, history, step data."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from ._users import HistoryEntry, SandboxUser
from .scenario import Scenario, Step

__all__ = ["history_entry", "iso", "step_types", "token_json"]


def iso(ts: float) -> str:
    """``ts`` (epoch seconds) as ISO 8601 in UTC, to the second."""
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds")


def token_json(token: str, created: float, expires: float) -> dict[str, str]:
    """A token as the API renders it: ``{"token", "createdAt", "expiresAt"}``."""
    return {"token": token, "createdAt": iso(created), "expiresAt": iso(expires)}


def step_types(step: Step, default_shape: str) -> Any:
    """A wizard step's ``data``, in the step's (or the scenario's default) shape."""
    wire = [t.wire() for t in step.types]
    shape = step.data_shape or default_shape
    if shape == "types_object" and len(wire) == 1:
        return {"types": wire[0]}
    if shape == "bare_list":
        return wire
    if shape == "reference":
        return [{"types": t} for t in wire]
    return {"types": wire}


def history_entry(scenario: Scenario, user: SandboxUser, entry: HistoryEntry) -> dict[str, Any]:
    """A verification-history entry, shaped by the scenario's quirks."""
    quirks = scenario.quirks
    levels = scenario.levels
    level = levels[entry.level]
    previous = None
    if entry.previous is not None:
        prev = levels[entry.previous]
        previous = {"id": prev.id, "name": prev.name}
    reason: int | str
    if quirks.reason_name_as_int:
        reason = entry.application
    else:
        reason = f"Application: {entry.application}" if entry.application else "created"
    return {
        "id": entry.id,
        "clientId": user.id,
        "currentLevel": {"id": level.id, "name": level.name},
        quirks.previous_level_key: previous,
        "reason": {"name": reason},
        "userId": "1" if quirks.user_id_as_string else 1,
        "createTime": iso(entry.create_time),
    }
