"""Hostile input: arbitrary reply bodies for every endpoint, and arbitrary paths for the
DirectoryProvider. Only kycflow errors (or valid typed results) may come out; nothing outside
the provider's root may be opened."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fakeserver import FakeServer, reply
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from reliakit import (
    DEEP_LISTS,
    DEEP_OBJECTS,
    bodies,
    json_values,
    keyed_dicts,
    plausible,
    statuses,
)

import kycflow
from kycflow._http import wire as _wire
from kycflow.errors import APIStatusError, KycflowError, ProtocolError
from kycflow.models import DocumentType, Verification, VerificationPage, WizardStep

PURE = settings(
    max_examples=400,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
OVER_HTTP = settings(
    max_examples=60,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(256))


def _upload_path(body: bytes) -> str:
    path = _wire.upload_path_from_payload(_wire.decode_json(body))
    if path is None:
        raise ProtocolError("no stored path")
    return path


PURE_DECODERS: dict[str, Callable[[bytes], Any]] = {
    "history": lambda b: _wire.page_from_payload(_wire.decode_json(b), body=b),
    "details": lambda b: _wire.verification_from_payload(_wire.decode_json(b), body=b),
    "wizard": lambda b: _wire.wizard_step_from_payload(_wire.decode_json(b), body=b),
    "submit": lambda b: _wire.wizard_step_from_payload(_wire.decode_json(b), body=b),
    "upload": _upload_path,
}
RESULT_TYPES = (VerificationPage, Verification, WizardStep, str, kycflow.SessionAuth)


def _nested(depth: int) -> Any:
    value: Any = []
    for _ in range(depth):
        value = [value]
    return value


@PURE
@given(endpoint=st.sampled_from(sorted(PURE_DECODERS)), body=bodies)
@example(endpoint="wizard", body=DEEP_LISTS)
@example(endpoint="history", body=DEEP_OBJECTS)
@example(endpoint="details", body=b"9" * 5000)
def test_wire_decoders_raise_only_kycflow_errors(endpoint: str, body: bytes) -> None:
    try:
        result = PURE_DECODERS[endpoint](body)
    except KycflowError:
        return
    assert isinstance(result, RESULT_TYPES)


PAYLOAD_DECODERS: dict[str, Callable[[Any], Any]] = {
    "history": _wire.page_from_payload,
    "details": _wire.verification_from_payload,
    "wizard": _wire.wizard_step_from_payload,
    "upload": _wire.upload_path_from_payload,
}


@PURE
@given(
    endpoint=st.sampled_from(sorted(PAYLOAD_DECODERS)),
    payload=json_values | keyed_dicts | plausible,
)
def test_decoded_payloads_raise_only_kycflow_errors(endpoint: str, payload: Any) -> None:
    # No body given: a misfit's excerpt is rendered from the payload itself.
    try:
        result = PAYLOAD_DECODERS[endpoint](payload)
    except KycflowError:
        return
    assert result is None or isinstance(result, RESULT_TYPES)


# Not hypothesis examples: hypothesis itself cannot print objects this deep.
@pytest.mark.parametrize(
    ("endpoint", "payload"),
    [
        ("wizard", {"code": 200, "data": _nested(5000)}),
        ("wizard", _nested(5000)),
        ("history", {"total": 1, "data": [_nested(5000)]}),
        ("details", _nested(5000)),
        ("upload", {"data": _nested(5000)}),
    ],
)
def test_absurdly_deep_payloads(endpoint: str, payload: Any) -> None:
    try:
        result = PAYLOAD_DECODERS[endpoint](payload)
    except ProtocolError:
        return
    # A list of lists names no document type: the step simply asks for none.
    assert result is None or (isinstance(result, WizardStep) and result.types == [])


@PURE
@given(
    status=statuses.filter(lambda s: s >= 400),
    body=bodies,
    retry_after=st.none() | st.text(max_size=40),
)
# Found by CI: details of any length once made the message longer than a line.
@example(status=400, body=b"[" + b", ".join([b"7" * 270] * 2) + b"]", retry_after=None)
@example(status=422, body=json.dumps([{"message": "x" * 900}] * 6).encode(), retry_after=None)
def test_error_replies_always_map_to_a_status_error(
    status: int, body: bytes, retry_after: str | None
) -> None:
    headers = {} if retry_after is None else {"Retry-After": retry_after}
    error = _wire.error_from_response(status, headers, body, method="GET", path="/x")
    assert isinstance(error, APIStatusError)
    assert error.status == status
    assert len(str(error)) < 1000


token_like = st.one_of(
    json_values,
    st.text(max_size=10),
    st.fixed_dictionaries(
        {"token": st.text(max_size=10) | json_values},
        optional={"expiresAt": st.text(max_size=30) | json_values, "createdAt": json_values},
    ),
)
token_replies = st.fixed_dictionaries(
    {
        "code": st.sampled_from([202, 200, None, "202"]),
        "done": st.booleans() | st.none(),
        "data": st.fixed_dictionaries({"accessToken": token_like, "refreshToken": token_like})
        | keyed_dicts
        | json_values,
    },
    optional={"uuid": st.text(max_size=8) | json_values},
)
auth_payloads = token_replies | plausible | json_values


def _run(coro: Awaitable[Any]) -> Any:
    return asyncio.run(coro)  # type: ignore[arg-type]


def _scripted(replies: list[Any]) -> kycflow.Requester:
    queue = list(replies)

    async def requester(method: str, path: str, *, json: Any = None, sign_in: bool = False) -> Any:
        return queue.pop(0) if queue else None

    return requester


async def _factor(kind: str) -> str:
    return "123456"


@settings(PURE, max_examples=200)
@given(replies=st.lists(auth_payloads, min_size=3, max_size=5))
def test_sign_in_replies_raise_only_kycflow_errors(replies: list[Any]) -> None:
    try:
        auth = _run(kycflow.sign_in(_scripted(replies), "a@x.test", "pw", second_factor=_factor))
    except KycflowError:
        return
    assert isinstance(auth, kycflow.SessionAuth)


@PURE
@given(reply=auth_payloads)
def test_refresh_replies_raise_only_kycflow_errors(reply: Any) -> None:
    auth = kycflow.SessionAuth("access-1", "refresh-1")
    try:
        _run(auth.refresh(_scripted([reply])))
    except KycflowError:
        assert auth.tokens.access_token.token.get_secret_value() == "access-1"
        return
    assert auth.refresh_count == 1


# ---- the same, through the client over a loopback server -----------------------------------


@pytest.fixture(scope="module")
def scripted() -> Iterator[FakeServer]:
    server = FakeServer()
    server.start_in_thread()  # one server for every example, each on an event loop of its own
    yield server
    server.stop_thread()


async def _call(base_url: str, endpoint: str) -> Any:
    async with kycflow.Client(
        base_url,
        auth=kycflow.BearerToken("tok"),
        max_retries=0,
        timeout=10.0,
        max_response_bytes=1024 * 1024,
    ) as client:
        if endpoint == "history":
            return await client.verifications.list()
        if endpoint == "details":
            return await client.verifications.get(1)
        if endpoint == "wizard":
            return await client.wizard.start()
        if endpoint == "submit":
            return await client.wizard.submit("u-1", 2, ["u1/a.jpg"])
        if endpoint == "upload":
            return await client.files.upload(JPEG, name="a.jpg")
        if endpoint == "signin":
            return await client.sign_in("a@x.test", "pw", second_factor=_factor)
        auth = kycflow.SessionAuth("access-1", "refresh-1")
        await auth.refresh(client)
        return auth


ENDPOINTS = ["history", "details", "wizard", "submit", "upload", "signin", "refresh"]


@OVER_HTTP
@given(
    endpoint=st.sampled_from(ENDPOINTS),
    status=statuses,
    body=bodies,
    content_type=st.sampled_from(["application/json", "text/html", "application/octet-stream"]),
)
@example(endpoint="wizard", status=200, body=DEEP_LISTS, content_type="application/json")
@example(endpoint="signin", status=200, body=DEEP_OBJECTS, content_type="application/json")
@example(endpoint="upload", status=201, body=b"\xff" * 3000, content_type="text/html")
def test_client_replies_raise_only_kycflow_errors(
    scripted: FakeServer, endpoint: str, status: int, body: bytes, content_type: str
) -> None:
    scripted.fallback = reply(status=status, raw=body, content_type=content_type)
    before = scripted.hits
    try:
        result = _run(_call(scripted.base_url, endpoint))
    except KycflowError:
        pass
    else:
        assert isinstance(result, RESULT_TYPES)
    assert scripted.hits > before  # the call really reached the server


# ---- DirectoryProvider confinement ----------------------------------------------------------

SECRET_MARKER = b"TOP-SECRET-OUTSIDE-THE-ROOT"
_watch: dict[str, Any] = {"secret": None, "opened": []}


def _audit(event: str, args: tuple[Any, ...]) -> None:
    # Audit hooks cannot be removed: this one only records while a test arms it.
    secret = _watch["secret"]
    if secret is None or event != "open" or not args:
        return
    target = args[0]
    if isinstance(target, str | bytes | os.PathLike):
        try:
            if os.path.realpath(target) == secret:
                _watch["opened"].append(target)
        except (OSError, ValueError):
            pass


sys.addaudithook(_audit)


@pytest.fixture(scope="module")
def jail(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("jail")
    secret = base / "secret.jpg"
    secret.write_bytes(JPEG + SECRET_MARKER)
    root = base / "root"
    (root / "sub").mkdir(parents=True)
    (root / "passport.jpg").write_bytes(JPEG)
    (root / "passport_\u00b2.jpg").write_bytes(JPEG)  # "²".isdigit(), yet int("²") fails
    (root / "sub" / "id_card.jpg").write_bytes(JPEG)
    (root / "selfie.jpg").symlink_to(secret)  # a file link pointing out
    (root / "outside").symlink_to(base)  # a directory link pointing out
    (root / "loop").symlink_to(root / "loop")
    (root / "sub" / "up.jpg").symlink_to(Path("..") / ".." / "secret.jpg")
    return root


HOSTILE_PATHS = [
    "../secret.jpg",
    "sub/../../secret.jpg",
    "./../secret.jpg",
    "outside/secret.jpg",
    "selfie.jpg",
    "sub/up.jpg",
    "loop",
    "loop/x.jpg",
    "passport.jpg\x00../secret.jpg",
    "..\\secret.jpg",
    "%2e%2e/secret.jpg",
    "\uff0e\uff0e/secret.jpg",
    "\ud800.jpg",
    "sub/\u202eexe.jpg",
    "//secret.jpg",
    "~/secret.jpg",
    "passport.jpg",
    "sub/id_card.jpg",
]
path_parts = st.sampled_from(HOSTILE_PATHS) | st.text(max_size=12)
paths = st.lists(path_parts, min_size=1, max_size=3).map("/".join) | path_parts
descriptions = st.sampled_from(["Passport", "Selfie", "secret", "../secret", "outside/secret"]) | (
    st.text(max_size=16)
)


def _check_docs(root: Path, docs: list[kycflow.Document] | None) -> None:
    for doc in docs or []:
        assert doc.path is not None
        assert doc.path.resolve().is_relative_to(root.resolve())

        async def read(d: kycflow.Document) -> bytes:
            return b"".join([chunk async for chunk in d.open_stream(1024)])

        assert SECRET_MARKER not in _run(read(doc))


@settings(
    max_examples=300,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    mapping=st.lists(paths, min_size=1, max_size=3) | paths,
    description=descriptions,
    absolute=st.booleans(),
)
@example(mapping="../secret.jpg", description="\u00b9", absolute=False)
def test_directory_provider_never_leaves_its_root(
    jail: Path, mapping: list[str] | str, description: str, absolute: bool
) -> None:
    secret = jail.parent / "secret.jpg"
    values: Any = mapping
    if absolute:
        values = [str(secret)] + (mapping if isinstance(mapping, list) else [mapping])
    doc_type = DocumentType(id=2, description=description)
    _watch["secret"], _watch["opened"] = os.path.realpath(secret), []
    try:
        for provider_args in ((jail, {2: values}), (jail, {description or "x": values}), (jail,)):
            try:
                provider = kycflow.DirectoryProvider(*provider_args)
                docs = _run(provider.documents_for(doc_type))
            except KycflowError:
                continue
            _check_docs(jail, docs)
    finally:
        _watch["secret"] = None
    assert _watch["opened"] == []


def test_directory_provider_confinement_check_can_fail(jail: Path) -> None:
    """The audit hook sees a read of the secret: the property above is not vacuous."""
    secret = jail.parent / "secret.jpg"
    _watch["secret"], _watch["opened"] = os.path.realpath(secret), []
    try:
        doc = kycflow.Document.from_path(secret)

        async def read() -> bytes:
            return b"".join([chunk async for chunk in doc.open_stream(1024)])

        assert SECRET_MARKER in _run(read())
    finally:
        _watch["secret"] = None
    assert _watch["opened"]
    # ... while the provider refuses every way there.
    hostile = ["../secret.jpg", "selfie.jpg", "outside/secret.jpg", "sub/up.jpg", str(secret)]
    for rel in [*hostile, "loop", "passport.jpg\x00../secret.jpg", "\ud800.jpg"]:
        with pytest.raises(kycflow.DocumentError):
            _run(kycflow.DirectoryProvider(jail, {2: rel}).documents_for(DocumentType(id=2)))
    with pytest.raises(kycflow.DocumentError):
        _run(
            kycflow.DirectoryProvider(jail).documents_for(DocumentType(id=3, description="Selfie"))
        )
