"""Endpoint groups: ``client.verifications``, ``client.wizard`` and ``client.files``."""

from .files import Files
from .verifications import Verifications
from .wizard import Wizard

__all__ = ["Files", "Verifications", "Wizard"]
