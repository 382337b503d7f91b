"""The runner's options: one frozen object, validated once, shared by every run it starts."""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from .._constants import (
    DEFAULT_MAX_STEPS,
    DEFAULT_MAX_SUBMIT_ATTEMPTS,
    DEFAULT_RUN_DEADLINE,
    DEFAULT_SETTLE_DELAY,
    DEFAULT_STALL_LIMIT,
    DEFAULT_UPLOAD_CONCURRENCY,
)
from ..errors import ConfigurationError
from .checkpoint import CheckpointStore
from .results import EventCallback, TypePolicy, first_supplied

__all__ = ["RunnerOptions"]


def _positive(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigurationError(f"{name} must be a positive integer")


@dataclass(frozen=True, slots=True, kw_only=True)
class RunnerOptions:
    """How a ``WizardRunner`` runs (its keyword arguments; ``WizardRunner`` documents each).

    Invalid values raise ``ConfigurationError`` when the options are built.
    """

    max_steps: int = DEFAULT_MAX_STEPS
    deadline: float | None = DEFAULT_RUN_DEADLINE
    on_event: EventCallback | None = None
    checkpoint_store: CheckpointStore | None = None
    checkpoint_key: str | None = None
    type_policy: TypePolicy = first_supplied
    upload_concurrency: int = DEFAULT_UPLOAD_CONCURRENCY
    stall_limit: int = DEFAULT_STALL_LIMIT
    max_submit_attempts: int = DEFAULT_MAX_SUBMIT_ATTEMPTS
    settle_delay: float = DEFAULT_SETTLE_DELAY
    run_id: str | None = None
    sleep: Callable[[float], Awaitable[None]] | None = None
    rng: random.Random | None = None

    def __post_init__(self) -> None:
        if self.checkpoint_store is not None and not self.checkpoint_key:
            raise ConfigurationError("checkpoint_key is required with a checkpoint_store")
        if self.deadline is not None and not self.deadline > 0:
            raise ConfigurationError("deadline must be a positive number of seconds or None")
        _positive("max_steps", self.max_steps)
        _positive("upload_concurrency", self.upload_concurrency)
        _positive("stall_limit", self.stall_limit)
        _positive("max_submit_attempts", self.max_submit_attempts)
        if not self.settle_delay >= 0:
            raise ConfigurationError("settle_delay must be >= 0 seconds")

    def __repr__(self) -> str:
        # Only what identifies a run: a store's or callback's repr could say anything.
        return f"RunnerOptions(checkpoint_key={self.checkpoint_key!r}, deadline={self.deadline!r})"
