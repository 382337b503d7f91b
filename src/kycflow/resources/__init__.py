"""Endpoint groups: ``client.verifications``, ``client.wizard``, ``client.files`` and
``client.documents``."""

from .documents import Documents
from .files import Files
from .verifications import Verifications
from .wizard import Wizard

__all__ = ["Documents", "Files", "Verifications", "Wizard"]
