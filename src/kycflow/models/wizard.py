"""The wizard's pages: ``WizardStep`` and the ``DocumentType``s it asks for, from every shape
of its ``data`` the reference and NOTES.md document."""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict, Field, field_validator

from .account import _Model

__all__ = [
    "KNOWN_SDKS",
    "WIZARD_FINAL",
    "WIZARD_INTERMEDIATE",
    "DocumentType",
    "WizardStep",
    "normalise_types",
]

WIZARD_INTERMEDIATE = 200
WIZARD_FINAL = 202


class DocumentType(_Model):
    """A type of document a wizard step asks for, e.g. ``{"id": 2, "description": "Passport"}``.
    Frozen: the steps decoded from the wire share one object per distinct type."""

    model_config = ConfigDict(extra="allow", populate_by_name=True, frozen=True)

    id: int
    description: str = ""
    enabled: bool = True
    example: str | None = ""
    group: dict[str, Any] = Field(default_factory=dict)

    @field_validator("group", mode="before")
    @classmethod
    def _group_as_dict(cls, value: Any) -> Any:
        # PHP serialises an empty object as [] and a missing one as null.
        if value is None or value == []:
            return {}
        return value


def normalise_types(data: Any) -> list[Any]:
    """Every documented shape of a wizard's ``data`` as a list of raw document-type objects.

    ``null``, ``{"types": [...]}``, ``{"types": {...}}``, a bare list, a bare list of
    ``{"types": {...}}`` wrappers, or a single document type. Entries that are not objects
    (the submit reply documents ``types`` as strings) are dropped: they describe nothing
    a client can submit.
    """
    if data is None:
        return []
    if isinstance(data, dict):
        if "types" in data:
            return normalise_types(data["types"])
        return [data] if "id" in data else []
    if isinstance(data, list):
        out: list[Any] = []
        for item in data:
            if isinstance(item, dict) and "types" in item and "id" not in item:
                out.extend(normalise_types(item["types"]))
            elif isinstance(item, dict):
                out.append(item)
        return out
    return []


_TYPES: dict[str, DocumentType] = {}  # by wire form: the runs share one frozen object per type


def _shared_type(item: Any) -> DocumentType:
    found = _TYPES.get(key := repr(item))
    if found is None:
        if len(_TYPES) >= 1024:
            _TYPES.clear()
        found = _TYPES[key] = DocumentType.model_validate(item)
    return found


class WizardStep(_Model):
    """A page of the verification wizard (the wizard envelope).

    ``code`` 200 is an intermediary step whose ``types`` the client must choose from; 202 is the
    final step. ``types`` is the envelope's ``data`` normalised to a list; ``raw_data`` keeps the
    original when it is an object other than ``{"types": [...]}`` (a reason, other fields), else
    None (a list, or the plain wrapper: ``types`` holds all they say).
    """

    code: int
    types: list[DocumentType] = Field(default_factory=list)
    raw_data: Any = None
    done: bool = False
    uuid: str = ""
    workflow: str = ""

    @classmethod
    def from_envelope(cls, payload: Any) -> WizardStep:
        """Build a step from the wire envelope (raises pydantic's ValidationError on misfit)."""
        if not isinstance(payload, dict):
            return cls.model_validate(payload)
        fields = dict(payload)  # in C, then the two keys replaced: no Python loop per reply
        data = fields.pop("data", None)
        fields.pop("types", None)
        fields["types"] = [_shared_type(t) for t in normalise_types(data)]
        # Not the plain {"types": [...]} nor a list: ``types`` holds all those say.
        fields["raw_data"] = data if isinstance(data, dict) and data.keys() != {"types"} else None
        return cls.model_validate(fields)

    @property
    def is_final(self) -> bool:
        """True when the wizard has ended (code 202). ``done`` alone ends nothing: on the start
        call it means "initialised"."""
        return self.code == WIZARD_FINAL

    @property
    def succeeded(self) -> bool:
        """True for a final step whose ``done`` says the procedure succeeded; a 202 with
        ``done: false`` ended the wizard without success."""
        return self.code == WIZARD_FINAL and self.done

    @property
    def sdk(self) -> str | None:
        """The third-party KYC SDK the ``workflow`` names (e.g. ``"IdenfySDK"``), if any."""
        name = self.workflow.replace("/", "\\").rsplit("\\", 1)[-1]
        if name in KNOWN_SDKS or (name.lower().endswith("sdk") and len(name) > 3):
            return name
        return None

    def reason(self) -> str | None:
        """A human-readable reason the reply carries (``message``, ``error``, ``reason``...
        on the envelope or in its ``data``), e.g. why a document was refused."""
        extra, data = self.model_extra, self.raw_data
        if not extra and not isinstance(data, dict):
            return None  # most replies: nothing beside the documented fields
        sources: list[Any] = [extra or {}]
        if isinstance(data, dict):
            sources.append(data)
        for source in sources:
            for key in _REASON_KEYS:
                value = source.get(key)
                if value is not None:
                    text = _reason_text(value)
                    if text:
                        return text
        return None

    @property
    def enabled_types(self) -> list[DocumentType]:
        """The document types of this step that may be submitted."""
        return [t for t in self.types if t.enabled]

    def signature(self) -> tuple[Any, ...]:
        """What identifies this step's content: equal signatures mean the wizard has not moved.
        ``done`` is left out: the start call and a submit reply may word the same page apart."""
        return (self.code, self.workflow, tuple(sorted([t.id for t in self.types])))


KNOWN_SDKS = frozenset({"IdenfySDK", "SnsWizardSDK", "ShuftiProSDK", "IDWiseSDK"})
_REASON_KEYS = ("reason", "message", "error", "errors", "comment", "detail", "rejectReason")


def _reason_text(value: Any) -> str | None:
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, dict):
        for key in ("message", "reason", "detail", "title", "name", "issue"):
            text = _reason_text(value.get(key))
            if text:
                return text
    if isinstance(value, list):
        texts = [t for t in (_reason_text(v) for v in value[:5]) if t]
        return "; ".join(texts) or None
    return None
