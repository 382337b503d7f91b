"""The client account's records: levels and verifications, tokens, stored documents."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, SecretStr, field_validator

__all__ = [
    "ClientDocument",
    "DocumentPage",
    "Level",
    "Reason",
    "Token",
    "TokenPair",
    "Verification",
    "VerificationPage",
]


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
