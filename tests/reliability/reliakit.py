"""Helpers of the reliability tests: hypothesis strategies of hostile replies (served by the
suite's one fake server, ``tests/fakeserver.py``, from a thread of its own)."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import strategies as st

DEEP_LISTS = b"[" * 10_000 + b"]" * 10_000
DEEP_OBJECTS = b'{"a":' * 10_000 + b"1" + b"}" * 10_000

# JSON values, huge numbers included (ints far past 64 bits, floats that overflow to inf).
scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=10**30, max_value=10**300)
    | st.floats(allow_nan=False)
    | st.text(max_size=20)
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)

# Values that look almost right: the envelope's and models' own keys with any values.
_KEYS = [
    "code", "data", "done", "uuid", "workflow", "types", "id", "description", "enabled",
    "example", "group", "total", "file", "accessToken", "refreshToken", "token", "expiresAt",
    "createdAt", "error", "message", "details", "issue", "currentLevel", "previousLevel",
    "previuosLevel", "reason", "name", "userId", "clientId", "createTime", "type",
]  # fmt: skip
keyed_dicts = st.recursive(
    st.dictionaries(st.sampled_from(_KEYS), scalars, max_size=6),
    lambda inner: st.dictionaries(
        st.sampled_from(_KEYS), inner | st.lists(inner, max_size=3) | scalars, max_size=6
    ),
    max_leaves=25,
)
plausible = st.fixed_dictionaries(
    {"code": st.sampled_from([200, 202, "200", None, 1.5, True]), "done": st.booleans()},
    optional={
        "uuid": st.text(max_size=10) | st.integers(),
        "workflow": st.text(max_size=10) | st.none(),
        "data": keyed_dicts | st.lists(keyed_dicts, max_size=3) | json_values,
        "total": st.integers() | st.text(max_size=3),
    },
)


def _deep(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def _encode(value: Any) -> bytes:
    return json.dumps(value).encode()


bodies = st.one_of(
    json_values.map(_encode),
    keyed_dicts.map(_encode),
    plausible.map(_encode),
    st.binary(max_size=200),
    st.text(max_size=200).map(lambda t: t.encode("utf-8", "surrogatepass")),
    st.integers(min_value=1, max_value=990).map(_deep),
    st.sampled_from(
        [
            DEEP_LISTS,
            DEEP_OBJECTS,
            b"9" * 5000,  # past Python's int digit limit
            b"1e999999",
            b"-Infinity",
            b"NaN",
            b'{"code": 200,}',
            b"<html><body><h1>502 Bad Gateway</h1></body></html>",
            b"\xff\xfe\x00{",
            b"",
            b"null",
            b"[]",
        ]
    ),
)
statuses = st.sampled_from([200, 201, 202, 400, 401, 403, 404, 409, 413, 422, 429, 500, 502, 503])
