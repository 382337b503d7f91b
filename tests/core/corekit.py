"""Helpers of the core tests: canned payloads and a client for the one fake server
(``tests/fakeserver.py``, re-exported here)."""

from __future__ import annotations

import base64
import json
import struct
import zlib
from pathlib import Path
from typing import Any

from fakeserver import FakeServer as FakeServer
from fakeserver import Seen as Seen
from fakeserver import drop as drop
from fakeserver import error as error
from fakeserver import reply as reply

import kycflow

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"

JPEG = b"\xff\xd8\xff\xe0" + b"\x00\x10JFIF\x00" + bytes(range(256)) * 8
PNG_HEAD = b"\x89PNG\r\n\x1a\n"


def png_bytes() -> bytes:
    """A minimal valid PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)
    return (
        PNG_HEAD
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\x00\x00"))
        + chunk(b"IEND", b"")
    )


def load_fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def envelope(
    code: int = 200, data: Any = None, *, done: bool = False, uuid: str = "wiz-1"
) -> dict[str, Any]:
    return {"code": code, "data": data, "done": done, "uuid": uuid, "workflow": "B2B\\W\\Step"}


def token_data(
    access: str, refresh: str | None, expires_at: str = "2099-01-01T00:00:00+00:00"
) -> dict[str, Any]:
    return {
        "accessToken": {
            "token": access,
            "createdAt": "2024-01-01T00:00:00+00:00",
            "expiresAt": expires_at,
        },
        "refreshToken": None
        if refresh is None
        else {"token": refresh, "createdAt": "2024-01-01T00:00:00+00:00", "expiresAt": expires_at},
    }


TOKEN = "tok-alice-SECRET-123"


def make_client(base_url: str, **kwargs: Any) -> kycflow.Client:
    kwargs.setdefault("auth", kycflow.BearerToken(TOKEN))
    kwargs.setdefault("initial_backoff", 0.01)
    kwargs.setdefault("max_backoff", 0.05)
    kwargs.setdefault("timeout", 5.0)
    return kycflow.Client(base_url, **kwargs)


def b64json(value: str) -> Any:
    return json.loads(base64.b64decode(value))


DOC_TYPE = {"id": 2, "description": "Passport", "enabled": True, "example": "", "group": {}}
