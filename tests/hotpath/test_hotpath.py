"""The hot-path shortcuts behind the throughput benchmark keep the behaviour they replace.

Every network test talks to an aiohttp server on 127.0.0.1 (port 0) that this module starts.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import structlog
from aiohttp import web
from structlog.testing import capture_logs

import kycflow
from kycflow._logging import get_logger, is_enabled
from kycflow.wizard.checkpoint import step_signature
from kycflow.wizard.events import WizardEvent

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(256)) * 4
PDF = b"%PDF-1.4\n" + b"0" * 500
UPLOAD = "/api/v2/my/files"


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
class Server:
    """Answers uploads (recording them), the wizard and submits like the API would."""

    uploads: list[Upload] = field(default_factory=list)
    submits: list[Any] = field(default_factory=list)
    user_agents: list[list[str]] = field(default_factory=list)
    base_url: str = ""

    async def upload(self, request: web.Request) -> web.StreamResponse:
        self.user_agents.append(request.headers.getall("User-Agent", []))
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

    async def wizard(self, request: web.Request) -> web.StreamResponse:
        self.user_agents.append(request.headers.getall("User-Agent", []))
        return web.json_response(_step(len(self.submits)))

    async def submit(self, request: web.Request) -> web.StreamResponse:
        self.submits.append(await request.json())
        return web.json_response(_step(len(self.submits)))


def _step(done: int) -> dict[str, Any]:
    if done >= 2:
        return {"code": 202, "data": None, "done": True, "uuid": "p1", "workflow": "w"}
    type_id = (2, 4)[done]
    types = [{"id": type_id, "description": f"type {type_id}", "enabled": True}]
    return {"code": 200, "data": {"types": types}, "done": False, "uuid": "p1", "workflow": "w"}


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    srv = Server()
    app = web.Application(client_max_size=64 * 1024 * 1024)
    app.router.add_post(UPLOAD, srv.upload)
    app.router.add_get("/api/v2/my/verifications/wizard", srv.wizard)
    app.router.add_post("/api/v2/my/verifications", srv.submit)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    srv.base_url = f"http://127.0.0.1:{port}/api"
    yield srv
    await runner.cleanup()


def _client(server: Server, **kwargs: Any) -> kycflow.Client:
    return kycflow.Client(
        server.base_url, auth=kycflow.BearerToken("t0k3n"), timeout=10.0, **kwargs
    )


def _counting(data: bytes, opened: list[int]) -> Callable[[int], AsyncIterator[bytes]]:
    def factory(chunk_size: int) -> AsyncIterator[bytes]:
        async def gen() -> AsyncIterator[bytes]:
            opened.append(1)
            for start in range(0, len(data), chunk_size):
                yield data[start : start + chunk_size]

        return gen()

    return factory


# ---- sized uploads ------------------------------------------------------------------------------


async def test_in_memory_upload_has_a_length_and_no_chunked_framing(server: Server) -> None:
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
async def test_prepared_part_matches_aiohttps_multipart_writer(server: Server, name: str) -> None:
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


async def test_in_memory_upload_over_the_inline_size_is_sized_too(server: Server) -> None:
    data = JPEG + bytes(700_000)  # above the single-buffer size: written in chunks
    async with _client(server) as client:
        await client.files.upload(data, name="big.jpg")
    seen = server.uploads[0]
    assert seen.transfer_encoding is None
    assert seen.content_length is not None
    assert seen.sha256 == hashlib.sha256(data).hexdigest()


async def test_file_upload_has_a_length(server: Server, tmp_path: Path) -> None:
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


async def test_a_callers_stream_stays_chunked(server: Server) -> None:
    # A declared size is the caller's claim: kycflow does not put it on the wire.
    opened: list[int] = []
    doc = kycflow.Document.from_stream(_counting(JPEG, opened), "s.jpg", size=len(JPEG))
    async with _client(server) as client:
        await client.files.upload(doc)
    assert server.uploads[0].transfer_encoding == "chunked"
    assert server.uploads[0].sha256 == hashlib.sha256(JPEG).hexdigest()


@pytest.mark.parametrize("actual", [b"\xff\xd8\xff" + bytes(5000), b"\xff\xd8\xff" + bytes(500)])
async def test_a_file_that_changes_size_while_sent_fails_the_upload(
    server: Server, tmp_path: Path, actual: bytes
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


async def test_call_options_are_shared_until_overridden(server: Server) -> None:
    async with _client(server) as client:
        view = client.with_auth(kycflow.BearerToken("other"))
        assert client.call_options({}) is client.call_options({})
        assert view.call_options({}) == client.call_options({})
        assert client.call_options({"max_retries": 0}).max_retries == 0
        assert client.call_options({}, upload=True).timeout.total is None
        with pytest.raises(kycflow.ConfigurationError):
            client.call_options({"bogus": 1})  # type: ignore[typeddict-unknown-key]
        with pytest.raises(kycflow.ConfigurationError):
            client.with_auth("token")  # type: ignore[arg-type]


async def test_one_user_agent_per_request_on_owned_and_borrowed_sessions(server: Server) -> None:
    async with _client(server) as client:
        await client.wizard.start()
    async with aiohttp.ClientSession() as session, _client(server, session=session) as client:
        await client.wizard.start()
    assert server.user_agents == [[f"kycflow/{kycflow.__version__}"]] * 2


async def test_submit_body_is_compact_json(server: Server) -> None:
    async with _client(server) as client:
        await client.wizard.submit("p1", 2, ["u1/a.jpg"])
    assert server.submits == [
        {"data": {"documents": {"type": 2, "files": ["u1/a.jpg"]}, "uuid": "p1"}}
    ]


async def test_large_reply_in_many_chunks_is_read_whole() -> None:
    big = {"code": 200, "data": {"types": []}, "uuid": "p1", "workflow": "x" * 300_000}

    async def handler(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse()
        resp.enable_chunked_encoding()
        resp.content_type = "application/json"
        await resp.prepare(request)
        raw = __import__("json").dumps(big).encode()
        for start in range(0, len(raw), 10_000):
            await resp.write(raw[start : start + 10_000])
            await asyncio.sleep(0)
        await resp.write_eof()
        return resp

    app = web.Application()
    app.router.add_get("/api/v2/my/verifications/wizard", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        base = f"http://127.0.0.1:{runner.addresses[0][1]}/api"
        async with kycflow.Client(base, auth=kycflow.BearerToken("t"), timeout=10.0) as client:
            step = await client.wizard.start()
            assert step.workflow == big["workflow"]
        small = kycflow.Client(base, auth=kycflow.BearerToken("t"), max_response_bytes=100_000)
        async with small:
            with pytest.raises(kycflow.ProtocolError, match="max_response_bytes"):
                await small.wizard.start(max_retries=0)
    finally:
        await runner.cleanup()


def test_step_signature_format_is_unchanged() -> None:
    # ``done`` left the signature in 0.2 (the start call and a submit reply word one page
    # apart); the runner still reads 0.1.0's ``[uuid, code, done, workflow, ids]`` checkpoints.
    step = kycflow.WizardStep.from_envelope(_step(0))
    assert step_signature(step) == '["p1",200,"w",[2]]'


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


async def test_runner_events_reach_the_callback_when_logging_is_quiet(server: Server) -> None:
    kycflow.configure_logging(logging.WARNING)
    events: list[WizardEvent] = []
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


async def test_runner_events_are_logged_without_a_callback(server: Server) -> None:
    kycflow.configure_logging(logging.INFO)
    provider = kycflow.MemoryProvider({2: ("p.jpg", JPEG), 4: ("a.pdf", PDF)})
    async with _client(server) as client:
        with capture_logs() as logs:
            await kycflow.WizardRunner(client, provider).run()
    names = [e["event"] for e in logs if e["event"].startswith("wizard.")]
    assert names.count("wizard.step_submitted") == 2
    assert names[-1] == "wizard.completed"
    assert all("t0k3n" not in repr(e) for e in logs)
