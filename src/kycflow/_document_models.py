"""Models of the client's documents (``/v2/my/documents``), tolerant like ``models``.

The vendor documents the calls but not the reply's fields beyond ``file`` and ``typeID``, so
every other field is optional and unknown fields are kept (``model_extra``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator

__all__ = ["ClientDocument", "DocumentPage"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


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
