"""Re-exports of :mod:`kycflow.wizard.runner` under the public path ``kycflow.runner``."""

from .wizard.runner import (
    EventCallback as EventCallback,
)
from .wizard.runner import (
    RunnerOptions as RunnerOptions,
)
from .wizard.runner import (
    StepResult as StepResult,
)
from .wizard.runner import (
    TypePolicy as TypePolicy,
)
from .wizard.runner import (
    WizardClient as WizardClient,
)
from .wizard.runner import (
    WizardResult as WizardResult,
)
from .wizard.runner import (
    WizardRunner as WizardRunner,
)
from .wizard.runner import (
    first_supplied as first_supplied,
)

__all__ = [
    "EventCallback",
    "RunnerOptions",
    "StepResult",
    "TypePolicy",
    "WizardClient",
    "WizardResult",
    "WizardRunner",
    "first_supplied",
]
