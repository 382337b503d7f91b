"""Integrations with other frameworks. Each module imports its framework lazily, so
``import kycflow`` never needs them: install the matching extra (``kycflow[arq]``)."""

from __future__ import annotations

import importlib
from typing import Any

from ..errors import ConfigurationError


def arq_module(name: str = "arq") -> Any:
    """arq's module ``name``, imported when first needed (``ConfigurationError`` without it)."""
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise ConfigurationError(
            "the arq integration needs arq and redis: pip install 'kycflow[arq]'"
        ) from exc
