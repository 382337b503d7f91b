"""What a sandbox models: levels, the procedure's steps, the document types, and wire quirks.

A ``Scenario`` is plain data. Build one in Python, load it from a JSON or TOML file with
``Scenario.load(path)``, or take ``Scenario.default()``.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .quirks import (
    DATA_SHAPES,
    ERROR_BODIES,
    SUBMIT_REPLIES,
    DataShape,
    Quirks,
    ScenarioError,
)
from .review import Review

__all__ = [
    "DATA_SHAPES",
    "ERROR_BODIES",
    "SUBMIT_REPLIES",
    "DocType",
    "LevelSpec",
    "Quirks",
    "Scenario",
    "ScenarioError",
    "Step",
]

SDK_WORKFLOW_PREFIX = "B2B\\TCA\\Wizards\\Workflow\\"
STEP_WORKFLOW = "B2B\\TCA\\Wizards\\Workflow\\VerificationWorkflow"
FINAL_WORKFLOW = "B2B\\TCA\\Wizards\\Workflow\\TerminateWorkflow"


@dataclass(frozen=True, slots=True)
class DocType:
    """A document type a step asks for. ``content_types`` (when set) restricts the uploads."""

    id: int
    description: str
    enabled: bool = True
    example: str = ""
    group: Mapping[str, Any] = field(default_factory=dict)
    content_types: tuple[str, ...] | None = None
    min_files: int = 1
    refuse: str | None = None
    """When set, every submit of this type is refused with this reason: the step is asked
    again (nothing committed), the reason in the reply's ``message``."""

    def wire(self) -> dict[str, Any]:
        """The Document Type object as the API sends it."""
        return {
            "id": self.id,
            "description": self.description,
            "enabled": self.enabled,
            "example": self.example,
            "group": dict(self.group),
        }


@dataclass(frozen=True, slots=True)
class Step:
    """A page of the wizard. Submitting any one enabled type commits it.

    ``stall=True`` makes every submit come back with this same step, uncommitted.
    ``data_shape`` overrides the scenario's ``Quirks.wizard_data`` for this step.
    ``sdk`` (e.g. ``"IdenfySDK"``) makes the step a third-party KYC SDK's: its workflow names
    the SDK, its ``data`` is null, and no submit is accepted.
    """

    types: tuple[DocType, ...]
    name: str = ""
    workflow: str = STEP_WORKFLOW
    stall: bool = False
    data_shape: DataShape | None = None
    sdk: str | None = None

    @property
    def wire_workflow(self) -> str:
        """The workflow string the step is sent with."""
        return SDK_WORKFLOW_PREFIX + self.sdk if self.sdk else self.workflow

    def type_by_id(self, type_id: int) -> DocType | None:
        """The step's document type with this id, if it lists one."""
        for doc_type in self.types:
            if doc_type.id == type_id:
                return doc_type
        return None


@dataclass(frozen=True, slots=True)
class LevelSpec:
    """A verification level."""

    id: int
    name: str


@dataclass(frozen=True, slots=True)
class Scenario:
    """Levels (``initial_level`` is a level id), steps, the final workflow string and quirks.

    Each completed procedure grants the next level; when the user holds the last level, the
    wizard has nothing left to do.
    """

    levels: tuple[LevelSpec, ...]
    steps: tuple[Step, ...]
    initial_level: int
    final_workflow: str = FINAL_WORKFLOW
    quirks: Quirks = field(default_factory=Quirks)
    review: Review = field(default_factory=Review)
    """What follows a completed procedure (see ``kycflow.testing.Review``)."""

    def __post_init__(self) -> None:
        if len(self.levels) < 1:
            raise ScenarioError("a scenario needs at least one level")
        ids = [level.id for level in self.levels]
        if len(set(ids)) != len(ids):
            raise ScenarioError("level ids must be unique")
        if self.initial_level not in ids:
            raise ScenarioError(f"initial_level {self.initial_level} is not a level id")
        if not self.steps:
            raise ScenarioError("a scenario needs at least one step")
        for index, step in enumerate(self.steps):
            if step.sdk is not None:
                continue
            if not step.types:
                raise ScenarioError(f"step {index} lists no document type")
            if not any(t.enabled for t in step.types):
                raise ScenarioError(f"step {index} has no enabled document type")
            if step.data_shape is not None and step.data_shape not in DATA_SHAPES:
                raise ScenarioError(f"step {index}: unknown data_shape {step.data_shape!r}")

    def level_index(self, level_id: int) -> int:
        """The position of a level id in ``levels`` (raises ScenarioError if unknown)."""
        for index, level in enumerate(self.levels):
            if level.id == level_id:
                return index
        raise ScenarioError(f"unknown level id {level_id}")

    @classmethod
    def default(cls) -> Scenario:
        """Two levels and three steps: Passport (2) or ID card (1); Selfie (3); Proof of
        address (4, PDF only)."""
        return cls(
            levels=(LevelSpec(1, "Level 0"), LevelSpec(2, "Level 1")),
            initial_level=1,
            steps=(
                Step(
                    name="Identity document",
                    types=(DocType(2, "Passport"), DocType(1, "ID card")),
                ),
                Step(name="Selfie", types=(DocType(3, "Selfie"),)),
                Step(
                    name="Proof of address",
                    types=(DocType(4, "Proof of address", content_types=("application/pdf",)),),
                ),
            ),
        )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Scenario:
        """A scenario from plain data (the JSON/TOML file layout; see docs/sandbox.md)."""
        try:
            levels = tuple(
                LevelSpec(int(level["id"]), str(level["name"])) for level in data["levels"]
            )
            steps = tuple(_step_from_dict(step) for step in data["steps"])
            quirks = Quirks(**dict(data.get("quirks", {})))
            return cls(
                levels=levels,
                steps=steps,
                initial_level=int(data.get("initial_level", levels[0].id if levels else 0)),
                final_workflow=str(data.get("final_workflow", FINAL_WORKFLOW)),
                quirks=quirks,
                review=Review.from_dict(dict(data.get("review", {}))),
            )
        except ScenarioError:
            raise
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise ScenarioError(f"invalid scenario: {exc!r}") from exc

    @classmethod
    def load(cls, path: str | Path) -> Scenario:
        """A scenario from a ``.json`` or ``.toml`` file."""
        file_path = Path(path)
        try:
            raw = file_path.read_bytes()
        except OSError as exc:
            raise ScenarioError(f"cannot read scenario file {file_path}: {exc.strerror}") from exc
        try:
            if file_path.suffix.lower() == ".toml":
                data: Any = tomllib.loads(raw.decode("utf-8"))
            else:
                data = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ScenarioError(f"cannot parse scenario file {file_path}: {exc}") from exc
        if not isinstance(data, dict):
            raise ScenarioError(f"scenario file {file_path} must hold an object")
        return cls.from_dict(data)

    def to_dict(self) -> dict[str, Any]:
        """The scenario as plain data (``from_dict`` reads it back)."""
        return {
            "levels": [{"id": level.id, "name": level.name} for level in self.levels],
            "initial_level": self.initial_level,
            "final_workflow": self.final_workflow,
            "steps": [
                {
                    "name": step.name,
                    "workflow": step.workflow,
                    "stall": step.stall,
                    **({"data_shape": step.data_shape} if step.data_shape else {}),
                    **({"sdk": step.sdk} if step.sdk else {}),
                    "types": [
                        {
                            **t.wire(),
                            "min_files": t.min_files,
                            **({"refuse": t.refuse} if t.refuse else {}),
                            **(
                                {"content_types": list(t.content_types)}
                                if t.content_types is not None
                                else {}
                            ),
                        }
                        for t in step.types
                    ],
                }
                for step in self.steps
            ],
            "quirks": {name: getattr(self.quirks, name) for name in Quirks.__dataclass_fields__},
            "review": self.review.to_dict(),
        }


def _step_from_dict(data: Mapping[str, Any]) -> Step:
    types = tuple(_type_from_dict(t) for t in _as_list(data.get("types", [])))
    sdk = data.get("sdk")
    return Step(
        types=types,
        name=str(data.get("name", "")),
        workflow=str(data.get("workflow", STEP_WORKFLOW)),
        stall=bool(data.get("stall", False)),
        data_shape=data.get("data_shape"),
        sdk=None if sdk is None else str(sdk),
    )


def _type_from_dict(data: Mapping[str, Any]) -> DocType:
    content_types = data.get("content_types")
    group = data.get("group") or {}
    if not isinstance(group, Mapping):
        raise ScenarioError("a document type's group must be an object")
    return DocType(
        id=int(data["id"]),
        description=str(data.get("description", "")),
        enabled=bool(data.get("enabled", True)),
        example=str(data.get("example", "")),
        group=dict(group),
        content_types=None if content_types is None else tuple(str(c) for c in content_types),
        min_files=int(data.get("min_files", 1)),
        refuse=None if data.get("refuse") is None else str(data["refuse"]),
    )


def _as_list(value: Any) -> Sequence[Any]:
    if isinstance(value, list | tuple):
        return value
    raise ScenarioError("expected a list")
