"""The orchestrator: ``WizardRunner`` and its parts (docs/architecture.md lists them)."""
