"""Pydantic v2 models of the API's payloads, tolerant of every quirk in the vendor's reference.

Models know nothing about the transport. Unknown fields are kept (``model_extra``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    field_validator,
)

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

WIZARD_INTERMEDIATE = 200
WIZARD_FINAL = 202


class _Model(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class Level(_Model):
    """A verification level."""

    id: int
    name: str = ""


class Reason(_Model):
    """Why a level was granted. ``name`` is documented both as a string and as an integer."""

    name: str | None = None

    @field_validator("name", mode="before")
    @classmethod
    def _name_as_str(cls, value: Any) -> Any:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
        return value


def _aware(value: datetime) -> datetime:
    # The API documents an offset; a naive value is taken as UTC rather than refused.
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


class Verification(_Model):
    """One operation of granting a verification level."""

    id: int
    client_id: int | None = Field(default=None, alias="clientId")
    current_level: Level | None = Field(default=None, alias="currentLevel")
    previous_level: Level | None = Field(
        default=None,
        validation_alias=AliasChoices("previousLevel", "previuosLevel", "previous_level"),
        serialization_alias="previousLevel",
    )
    reason: Reason | None = None
    # An integer in one sample and a numeric string in another; lax mode accepts both.
    user_id: int | None = Field(default=None, alias="userId")
    create_time: datetime | None = Field(default=None, alias="createTime")

    @field_validator("create_time")
    @classmethod
    def _create_time_aware(cls, value: datetime | None) -> datetime | None:
        return None if value is None else _aware(value)


class VerificationPage(_Model):
    """A page of the verification history: ``total`` across all pages, ``data`` on this one."""

    total: int = 0
    data: list[Verification] = Field(default_factory=list)


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
        data = payload.get("data")
        fields = {k: v for k, v in payload.items() if k != "data" and k != "types"}
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
        sources: list[Any] = [self.model_extra or {}]
        if isinstance(self.raw_data, dict):
            sources.append(self.raw_data)
        for source in sources:
            for key in _REASON_KEYS:
                text = _reason_text(source.get(key))
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
        return (self.code, self.workflow, tuple(sorted(t.id for t in self.types)))


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


class Token(_Model):
    """A token with its lifetime. The value is a ``SecretStr``: it never shows in a repr."""

    token: SecretStr
    created_at: datetime | None = Field(default=None, alias="createdAt")
    expires_at: datetime | None = Field(default=None, alias="expiresAt")

    @field_validator("created_at", "expires_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        return None if value is None else _aware(value)


class TokenPair(_Model):
    """What sign-in and refresh return: an access token and (maybe) a refresh token."""

    access_token: Token = Field(alias="accessToken")
    refresh_token: Token | None = Field(default=None, alias="refreshToken")


# The client's documents (``/v2/my/documents``): the vendor documents only ``file`` and
# ``typeID``, so every other field is optional and unknown fields are kept (``model_extra``).
class ClientDocument(_Model):
    """A document stored for the current client (not a local file: see ``kycflow.Document``)."""

    id: int
    file: str | None = Field(default=None, validation_alias=AliasChoices("file", "path"))
    type_id: int | None = Field(
        default=None,
        validation_alias=AliasChoices("typeID", "typeId", "type_id", "type"),
        serialization_alias="typeID",
    )
    status: str | None = None
    create_time: datetime | None = Field(
        default=None, validation_alias=AliasChoices("createTime", "createdAt", "create_time")
    )

    @field_validator("type_id", mode="before")
    @classmethod
    def _type_as_id(cls, value: Any) -> Any:
        # A type may come as its id, a numeric string, or the Document Type object.
        if isinstance(value, dict):
            return value.get("id")
        return value

    @field_validator("status", mode="before")
    @classmethod
    def _status_as_str(cls, value: Any) -> Any:
        if isinstance(value, dict):
            value = value.get("name", value.get("id"))
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
        return value

    @field_validator("create_time")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is None or value.tzinfo is not None:
            return value
        return value.replace(tzinfo=UTC)


class DocumentPage(_Model):
    """A page of the client's documents: ``total`` across pages, ``data`` on this one."""

    total: int = 0
    data: list[ClientDocument] = Field(default_factory=list)
