"""Pydantic v2 models of the API's payloads, tolerant of every quirk in the vendor's reference.

Models know nothing about the transport. Unknown fields are kept (``model_extra``).
``account`` holds levels, verifications, tokens and stored documents; ``wizard`` the wizard's
pages and document types.
"""

from . import wizard
from .account import (
    ClientDocument,
    DocumentPage,
    Level,
    Reason,
    Token,
    TokenPair,
    Verification,
    VerificationPage,
)
from .wizard import (
    KNOWN_SDKS,
    DocumentType,
    WizardStep,
    normalise_types,
)

# Importable as before (not in ``__all__``): the wizard's two codes.
WIZARD_INTERMEDIATE = wizard.WIZARD_INTERMEDIATE
WIZARD_FINAL = wizard.WIZARD_FINAL

__all__ = [
    "KNOWN_SDKS",
    "ClientDocument",
    "DocumentPage",
    "DocumentType",
    "Level",
    "Reason",
    "Token",
    "TokenPair",
    "Verification",
    "VerificationPage",
    "WizardStep",
    "normalise_types",
]

# The public path in reprs and pickles (a pickle names its class's module): a process on a
# release before the split, or after a later one, still loads them.
for _name in __all__:
    _obj = globals()[_name]
    if isinstance(_obj, type):
        _obj.__module__ = __name__
del _name, _obj
