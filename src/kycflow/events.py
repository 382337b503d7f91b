"""Re-exports of :mod:`kycflow.wizard.events` under the public path ``kycflow.events``."""

from .wizard.events import (
    Completed as Completed,
)
from .wizard.events import (
    Failed as Failed,
)
from .wizard.events import (
    FileUploaded as FileUploaded,
)
from .wizard.events import (
    Retrying as Retrying,
)
from .wizard.events import (
    StepRefused as StepRefused,
)
from .wizard.events import (
    StepStarted as StepStarted,
)
from .wizard.events import (
    StepSubmitted as StepSubmitted,
)
from .wizard.events import (
    WizardEvent as WizardEvent,
)

__all__ = [
    "Completed",
    "Failed",
    "FileUploaded",
    "Retrying",
    "StepRefused",
    "StepStarted",
    "StepSubmitted",
    "WizardEvent",
]
