"""Re-exports of :mod:`kycflow.wizard.checkpoint` under the public path ``kycflow.checkpoint``."""

from .wizard.checkpoint import (
    Checkpoint as Checkpoint,
)
from .wizard.checkpoint import (
    CheckpointStore as CheckpointStore,
)
from .wizard.checkpoint import (
    CompletedStep as CompletedStep,
)
from .wizard.checkpoint import (
    MemoryCheckpointStore as MemoryCheckpointStore,
)
from .wizard.checkpoint import (
    StepInProgress as StepInProgress,
)
from .wizard.checkpoint import (
    UploadedFile as UploadedFile,
)
from .wizard.checkpoint import (
    step_signature as step_signature,
)

__all__ = [
    "Checkpoint",
    "CheckpointStore",
    "CompletedStep",
    "MemoryCheckpointStore",
    "StepInProgress",
    "UploadedFile",
    "step_signature",
]
