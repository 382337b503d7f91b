"""The hot-path shortcuts behind the throughput benchmark keep the behaviour they replace.

Every network test talks to the suite's one fake server (``tests/fakeserver.py``) on 127.0.0.1.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import structlog
from aiohttp import web
from fakeserver import FakeServer, chunked, error, reply
from structlog.testing import capture_logs

import kycflow
from kycflow._logging import get_logger, is_enabled
from kycflow.checkpoint import step_signature

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(256)) * 4
PDF = b"%PDF-1.4\n" + b"0" * 500
UPLOAD = "/v2/my/files"
WIZARD = "/v2/my/verifications/wizard"
SUBMIT = "/v2/my/verifications"


@dataclass
class Upload:
    """What the server saw of one upload."""

    headers: dict[str, str]
    transfer_encoding: str | None
    content_length: int | None
    filename: str | None
    field_name: str | None
    content_type: str | None
    sha256: str | None
    complete: bool


@dataclass
class Api:
    """The one fake server answering uploads (recording what it saw), the wizard and submits."""

    fake: FakeServer
    uploads: list[Upload] = field(default_factory=list)

    @property
    def base_url(self) -> str:
        return self.fake.base_url

    @property
    def submits(self) -> list[Any]:
        return [s.json() for s in self.fake.requests_to("POST", SUBMIT)]

    def user_agents(self, path: str) -> list[list[str]]:
        return [s.headers.getall("User-Agent", []) for s in self.fake.seen if s.path == path]

    async def upload(self, request: web.Request) -> web.StreamResponse:
        seen = Upload(
            headers=dict(request.headers),
            transfer_encoding=request.headers.get("Transfer-Encoding"),
            content_length=request.content_length,
            filename=None,
            field_name=None,
            content_type=None,
            sha256=None,
            complete=False,
        )
        self.uploads.append(seen)
        reader = await request.multipart()
        part = await reader.next()
        assert isinstance(part, aiohttp.BodyPartReader)
        digest = hashlib.sha256()
        while chunk := await part.read_chunk(4096):
            digest.update(chunk)
        seen.filename, seen.field_name = part.filename, part.name
        seen.content_type = part.headers.get("Content-Type")
        seen.sha256 = digest.hexdigest()
        seen.complete = True
        return web.json_response({"data": {"file": f"u1/{part.filename}"}}, status=201)

    async def step(self, request: web.Request) -> web.StreamResponse:
        # The wizard read and a submit's reply: the page after the submits received so far.
        return web.json_response(_step(len(self.submits)))


def _step(done: int) -> dict[str, Any]:
    if done >= 2:
        return {"code": 202, "data": None, "done": True, "uuid": "p1", "workflow": "w"}
    type_id = (2, 4)[done]
    types = [{"id": type_id, "description": f"type {type_id}", "enabled": True}]
    return {"code": 200, "data": {"types": types}, "done": False, "uuid": "p1", "workflow": "w"}


@pytest.fixture
async def server() -> AsyncIterator[Api]:
    async with FakeServer() as fake:
        api = Api(fake)
        fake.route("POST", UPLOAD, api.upload)
        fake.route("GET", WIZARD, api.step)
        fake.route("POST", SUBMIT, api.step)
        yield api


def _client(server: Api, **kwargs: Any) -> kycflow.Client:
    kwargs.setdefault("timeout", 10.0)
    return kycflow.Client(server.base_url, auth=kycflow.BearerToken("t0k3n"), **kwargs)


def _counting(data: bytes, opened: list[int]) -> Callable[[int], AsyncIterator[bytes]]:
    def factory(chunk_size: int) -> AsyncIterator[bytes]:
        async def gen() -> AsyncIterator[bytes]:
            opened.append(1)
            for start in range(0, len(data), chunk_size):
                yield data[start : start + chunk_size]

        return gen()

    return factory


# ---- sized uploads ------------------------------------------------------------------------------


async def test_in_memory_upload_has_a_length_and_no_chunked_framing(server: Api) -> None:
    async with _client(server) as client:
        stored = await client.files.upload(JPEG, name="passport.jpg")
    assert stored == "u1/passport.jpg"
    seen = server.uploads[0]
    assert seen.transfer_encoding is None
    assert seen.content_length is not None
    assert seen.content_length > len(JPEG)
    assert seen.complete
    assert seen.sha256 == hashlib.sha256(JPEG).hexdigest()
    assert (seen.field_name, seen.filename, seen.content_type) == (
        "file",
        "passport.jpg",
        "image/jpeg",
    )
    assert seen.headers["Authorization"] == "Bearer t0k3n"


@pytest.mark.parametrize("name", ["pass port.jpg", 'a"b;c.jpg', "p\u00e4ss.jpg"])
async def test_prepared_part_matches_aiohttps_multipart_writer(server: Api, name: str) -> None:
    # The part headers kycflow prepares itself must read back exactly like aiohttp's own.
    async with _client(server) as client:
        await client.files.upload(JPEG, name=name)
    form = aiohttp.FormData()
    form.add_field("file", JPEG, filename=name, content_type="image/jpeg")
    async with (
        aiohttp.ClientSession() as session,
        session.post(server.base_url + "/v2/my/files", data=form) as resp,
    ):
        assert resp.status == 201
    ours, theirs = server.uploads
    assert (ours.filename, ours.content_type, ours.sha256) == (
        theirs.filename,
        theirs.content_type,
        theirs.sha256,
    )


async def test_in_memory_upload_over_the_inline_size_is_sized_too(server: Api) -> None:
    data = JPEG + bytes(700_000)  # above the single-buffer size: written in chunks
    async with _client(server) as client:
        await client.files.upload(data, name="big.jpg")
    seen = server.uploads[0]
    assert seen.transfer_encoding is None
    assert seen.content_length is not None
    assert seen.sha256 == hashlib.sha256(data).hexdigest()


async def test_file_upload_has_a_length(server: Api, tmp_path: Path) -> None:
    path = tmp_path / "address.pdf"
    data = PDF + bytes(600_000)
    path.write_bytes(data)
    async with _client(server) as client:
        await client.files.upload(path)
    seen = server.uploads[0]
    assert seen.transfer_encoding is None
    assert seen.content_length is not None
    assert seen.sha256 == hashlib.sha256(data).hexdigest()
    assert seen.content_type == "application/pdf"


async def test_a_callers_stream_stays_chunked(server: Api) -> None:
    # A declared size is the caller's claim: kycflow does not put it on the wire.
    opened: list[int] = []
    doc = kycflow.Document.from_stream(_counting(JPEG, opened), "s.jpg", size=len(JPEG))
    async with _client(server) as client:
        await client.files.upload(doc)
    assert server.uploads[0].transfer_encoding == "chunked"
    assert server.uploads[0].sha256 == hashlib.sha256(JPEG).hexdigest()


@pytest.mark.parametrize("actual", [b"\xff\xd8\xff" + bytes(5000), b"\xff\xd8\xff" + bytes(500)])
async def test_a_file_that_changes_size_while_sent_fails_the_upload(
    server: Api, tmp_path: Path, actual: bytes
) -> None:
    path = tmp_path / "a.jpg"
    path.write_bytes(JPEG)
    validated = await kycflow.Document.from_path(path).validate()
    # The file's content as it is read during the upload differs in length from the size that
    # went into Content-Length (as if the file were rewritten mid-upload).
    opened: list[int] = []
    doc = kycflow.Document(
        name=validated.name,
        content_type=validated.content_type,
        size=validated.size,
        _factory=_counting(actual, opened),
        path=path,
        _sniffed=True,
    )
    async with _client(server) as client:
        with pytest.raises(kycflow.DocumentError, match="changed size"):
            await client.files.upload(doc)
        # The pool is still usable afterwards.
        assert await client.files.upload(JPEG, name="next.jpg") == "u1/next.jpg"
    assert opened == [1]
    assert not any(u.complete and u.filename == "a.jpg" for u in server.uploads)


# ---- validation is not repeated -----------------------------------------------------------------


async def test_a_validated_document_is_not_read_again() -> None:
    opened: list[int] = []
    doc = kycflow.Document.from_stream(_counting(JPEG, opened), "x.jpg", size=len(JPEG))
    checked = await doc.validate()
    assert checked.validated
    assert not doc.validated
    assert opened == [1]
    assert await checked.validate() is checked
    assert opened == [1]
    # Other limits are still applied, from the facts the first check established.
    with pytest.raises(kycflow.DocumentError, match="over the limit"):
        await checked.validate(max_bytes=100)
    with pytest.raises(kycflow.DocumentError, match="not allowed"):
        await checked.validate(allowed_types={"application/pdf"})


async def test_a_validated_file_is_checked_again_when_it_changed(tmp_path: Path) -> None:
    path = tmp_path / "a.jpg"
    path.write_bytes(JPEG)
    checked = await kycflow.Document.from_path(path).validate()
    assert await checked.validate() is checked
    path.write_bytes(PDF)  # another size and another type under the same name
    with pytest.raises(kycflow.DocumentError, match="claims image/jpeg"):
        await checked.validate()
    path.unlink()
    with pytest.raises(kycflow.DocumentError, match="not found"):
        await checked.validate()


async def test_in_memory_head_is_read_without_a_stream() -> None:
    doc = kycflow.Document.from_bytes(JPEG, "a.jpg")
    assert doc.data == JPEG
    assert await doc.read_head(5) == JPEG[:5]
    assert "bytes" not in repr(doc)
    assert "JFIF" not in repr(doc)


# ---- client and transport ------------------------------------------------------------------------


async def test_call_options_follow_the_client_until_overridden(server: Api) -> None:
    server.fake.route("GET", WIZARD, error(503))
    async with _client(server, max_retries=1, initial_backoff=0.001) as client:
        view = client.with_auth(kycflow.BearerToken("other"))
        for caller in (client, view):
            with pytest.raises(kycflow.ServerError):
                await caller.wizard.start()
        # The view retries as its client does, with its own token.
        sent = server.fake.requests_to("GET", WIZARD)
        assert [s.headers["Authorization"] for s in sent] == ["Bearer t0k3n"] * 2 + [
            "Bearer other"
        ] * 2
        with pytest.raises(kycflow.ServerError):
            await client.wizard.start(max_retries=0)
        assert len(server.fake.requests_to("GET", WIZARD)) == 5
        with pytest.raises(kycflow.ConfigurationError):
            await client.wizard.start(bogus=1)  # type: ignore[call-arg]
        assert len(server.fake.requests_to("GET", WIZARD)) == 5  # refused before sending
        with pytest.raises(kycflow.ConfigurationError):
            client.with_auth("token")  # type: ignore[arg-type]


async def test_uploads_default_to_the_upload_timeout_not_the_clients(server: Api) -> None:
    # The client's 0.2 s total cap bounds its other calls; an upload (UploadConfig's default:
    # no total cap) may take longer.
    server.fake.route("POST", UPLOAD, reply({"data": {"file": "u1/slow.jpg"}}, 201, delay=0.4))
    server.fake.route("GET", WIZARD, reply(_step(0), delay=0.4))
    async with _client(server, timeout=0.2, max_retries=0) as client:
        assert await client.files.upload(JPEG, name="slow.jpg") == "u1/slow.jpg"
        with pytest.raises(kycflow.APITimeoutError):
            await client.wizard.start()


async def test_one_user_agent_per_request_on_owned_and_borrowed_sessions(server: Api) -> None:
    async with _client(server) as client:
        await client.wizard.start()
    async with aiohttp.ClientSession() as session, _client(server, session=session) as client:
        await client.wizard.start()
    assert server.user_agents(WIZARD) == [[f"kycflow/{kycflow.__version__}"]] * 2


async def test_submit_body_is_compact_json(server: Api) -> None:
    async with _client(server) as client:
        await client.wizard.submit("p1", 2, ["u1/a.jpg"])
    assert server.submits == [
        {"data": {"documents": {"type": 2, "files": ["u1/a.jpg"]}, "uuid": "p1"}}
    ]


async def test_large_reply_in_many_chunks_is_read_whole(server: Api) -> None:
    big = {"code": 200, "data": {"types": []}, "uuid": "p1", "workflow": "x" * 300_000}
    server.fake.route("GET", WIZARD, chunked(big))
    async with _client(server) as client:
        step = await client.wizard.start()
        assert step.workflow == big["workflow"]
    async with _client(server, max_response_bytes=100_000) as small:
        with pytest.raises(kycflow.ProtocolError, match="max_response_bytes"):
            await small.wizard.start(max_retries=0)


def test_step_signature_format_is_unchanged() -> None:
    # ``done`` left the signature in 0.2 (the start call and a submit reply word one page
    # apart); the runner still reads 0.1.0's ``[uuid, code, done, workflow, ids]`` checkpoints.
    step = kycflow.WizardStep.from_envelope(_step(0))
    assert step_signature(step) == '["p1",200,"w",[2]]'


@pytest.mark.parametrize(
    ("uuid", "workflow"),
    [('p-\u00e9"1\\', "B2Core\\IdenfySDK"), ("\u2603\n\t", ""), ("", "w\u0000\ud7ff")],
)
def test_step_signature_is_the_json_of_its_parts(uuid: str, workflow: str) -> None:
    # Checkpoints written by earlier versions hold ``json.dumps`` of these parts: the same bytes.
    envelope = {"code": 200, "uuid": uuid, "workflow": workflow, "data": {"types": []}}
    step = kycflow.WizardStep.from_envelope(
        {**envelope, "data": {"types": [{"id": 9, "enabled": True}, {"id": 3, "enabled": False}]}}
    )
    expected = json.dumps([uuid, 200, workflow, [3, 9]], separators=(",", ":"))
    assert step_signature(step) == expected
    assert json.loads(step_signature(step)) == [uuid, 200, workflow, [3, 9]]


# ---- logging follows structlog's configuration ---------------------------------------------------


def test_logger_follows_reconfiguration() -> None:
    log = get_logger().bind(run_id="r1")
    structlog.reset_defaults()
    logging.getLogger("kycflow").setLevel(logging.WARNING)
    try:
        assert not is_enabled(log, logging.INFO)  # stdlib logger "kycflow" at WARNING
        logging.getLogger("kycflow").setLevel(logging.DEBUG)
        assert is_enabled(log, logging.INFO)
    finally:
        logging.getLogger("kycflow").setLevel(logging.NOTSET)
    kycflow.configure_logging(logging.WARNING)
    assert not is_enabled(log, logging.INFO)
    assert is_enabled(log, logging.ERROR)
    kycflow.configure_logging(logging.DEBUG)
    assert is_enabled(log, logging.DEBUG)
    with capture_logs() as logs:  # changes the processor list in place
        log.info("hot.event", token="abc", n=1)
    assert logs == [
        {"run_id": "r1", "n": 1, "token": "abc", "event": "hot.event", "log_level": "info"}
    ]
    structlog.configure(processors=[structlog.processors.KeyValueRenderer()])
    with capture_logs() as logs:
        log.warning("after.replace")
    assert [e["event"] for e in logs] == ["after.replace"]


async def test_runner_events_reach_the_callback_when_logging_is_quiet(server: Api) -> None:
    kycflow.configure_logging(logging.WARNING)
    events: list[kycflow.WizardEvent] = []
    provider = kycflow.MemoryProvider({2: ("p.jpg", JPEG), 4: ("a.pdf", PDF)})
    async with _client(server) as client:
        result = await kycflow.WizardRunner(client, provider, on_event=events.append).run()
    assert result.done
    assert [s.type_id for s in result.steps] == [2, 4]
    assert [e.name for e in events] == [
        "wizard.step_started",
        "wizard.file_uploaded",
        "wizard.step_submitted",
        "wizard.step_started",
        "wizard.file_uploaded",
        "wizard.step_submitted",
        "wizard.completed",
    ]


async def test_runner_events_are_logged_without_a_callback(server: Api) -> None:
    kycflow.configure_logging(logging.INFO)
    provider = kycflow.MemoryProvider({2: ("p.jpg", JPEG), 4: ("a.pdf", PDF)})
    async with _client(server) as client:
        with capture_logs() as logs:
            await kycflow.WizardRunner(client, provider).run()
    names = [e["event"] for e in logs if e["event"].startswith("wizard.")]
    assert names.count("wizard.step_submitted") == 2
    assert names[-1] == "wizard.completed"
    assert all("t0k3n" not in repr(e) for e in logs)
