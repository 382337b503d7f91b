"""Transport safety the core tests do not already prove: TLS verification against a real
self-signed HTTPS server, credentials across host-name origins, and the upload size limit for
streams whose size is unknown or understated.

Already proven elsewhere (SECURITY.md cites them): plain http refused
(tests/core/test_resilience.py), cross-origin redirects drop Authorization (same file),
oversized JSON replies (tests/core/test_endpoints.py), oversized known-size uploads refused
before any request (tests/core/test_upload.py).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

import kycflow
from kycflow.testing import Sandbox

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(256))
WIZARD = {"code": 200, "data": None, "done": False, "uuid": "w-1", "workflow": "W"}
TOKEN = "tls-token-SECRET"


def _self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


class Recorder:
    """A loopback app recording what reached it: requests, headers and body bytes."""

    def __init__(self) -> None:
        self.requests: list[web.Request] = []
        self.authorizations: list[str | None] = []
        self.received = 0
        self.port = 0
        self.runner: web.AppRunner | None = None

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(request)
        self.authorizations.append(request.headers.get("Authorization"))
        try:
            while chunk := await request.content.read(4096):
                self.received += len(chunk)
        except Exception:  # the client aborted its body: count what came
            return web.Response(status=400)
        if request.path.endswith("/files"):
            return web.json_response({"data": {"file": "u/x.jpg"}}, status=201)
        return web.json_response(WIZARD)

    async def start(self, ssl_context: ssl.SSLContext | None = None) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self.handle)
        self.runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0, ssl_context=ssl_context)
        await site.start()
        self.port = self.runner.addresses[0][1]

    async def close(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()


@pytest.fixture
def cert(tmp_path: Path) -> tuple[Path, Path]:
    return _self_signed(tmp_path)


@pytest.fixture
async def https_server(cert: tuple[Path, Path]) -> AsyncIterator[Recorder]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*cert)
    server = Recorder()
    await server.start(context)
    yield server
    await server.close()


@pytest.fixture
async def plain_server() -> AsyncIterator[Recorder]:
    server = Recorder()
    await server.start()
    yield server
    await server.close()


async def test_tls_verification_is_on_by_default() -> None:
    async with kycflow.Client("https://api.example.test/api") as client:
        connector = client.transport.session().connector
        assert isinstance(connector, aiohttp.TCPConnector)
        # aiohttp keeps the setting privately; False would mean "verify nothing".
        assert connector._ssl is not False
        assert connector._ssl is True or isinstance(connector._ssl, ssl.SSLContext)


async def test_self_signed_https_server_is_refused(
    https_server: Recorder, cert: tuple[Path, Path]
) -> None:
    base = f"https://127.0.0.1:{https_server.port}/api"
    async with kycflow.Client(base, auth=kycflow.BearerToken(TOKEN), max_retries=3) as client:
        with pytest.raises(kycflow.APIConnectionError, match="TLS") as info:
            await client.wizard.start()
    assert not isinstance(info.value, kycflow.APITimeoutError)
    assert TOKEN not in str(info.value)
    # The handshake failed: no request, so no token, ever reached the server; not retried.
    assert https_server.requests == []
    # The control: trusting that certificate, the same server answers.
    trusted = ssl.create_default_context(cafile=str(cert[0]))
    async with kycflow.Client(base, auth=kycflow.BearerToken(TOKEN), ssl=trusted) as client:
        step = await client.wizard.start()
    assert step.uuid == "w-1"
    assert https_server.authorizations == [f"Bearer {TOKEN}"]


async def test_redirect_to_another_host_name_drops_authorization(plain_server: Recorder) -> None:
    # Same address and port, other host name: another origin, so the token stays behind.
    other = f"http://localhost:{plain_server.port}/api/v2/my/verifications/wizard"

    async def redirect(request: web.Request) -> web.StreamResponse:
        plain_server.authorizations.append(request.headers.get("Authorization"))
        raise web.HTTPTemporaryRedirect(other)

    first = Recorder()
    first.handle = redirect  # type: ignore[method-assign]
    await first.start()
    try:
        base = f"http://127.0.0.1:{first.port}/api"
        async with kycflow.Client(base, auth=kycflow.BearerToken(TOKEN)) as client:
            step = await client.wizard.start()
    finally:
        await first.close()
    assert step.uuid == "w-1"
    assert plain_server.authorizations == [f"Bearer {TOKEN}", None]


def _stream(data: bytes, chunk: int = 1024) -> kycflow.Document:
    async def chunks(size: int) -> AsyncIterator[bytes]:
        for start in range(0, len(data), chunk):
            yield data[start : start + chunk]

    return kycflow.Document.from_stream(chunks, "big.jpg")


LIMIT = 16 * 1024


@pytest.mark.parametrize("declared", [None, 100])
async def test_stream_over_the_limit_is_stopped(
    plain_server: Recorder, declared: int | None
) -> None:
    """A stream of unknown (or understated) size passes validation; it is cut at the limit."""
    data = JPEG + b"x" * (LIMIT * 8)
    doc = _stream(data)
    if declared is not None:
        doc = kycflow.Document.from_stream(doc.open_stream, "big.jpg", size=declared)
    base = f"http://127.0.0.1:{plain_server.port}/api"
    async with kycflow.Client(base, max_upload_bytes=LIMIT) as client:
        with pytest.raises(kycflow.DocumentError, match="limit") as info:
            await client.files.upload(doc)
        assert not isinstance(info.value, kycflow.OutcomeUnknownError)
        # The same document within the limit goes through: the limit is what stopped it.
        assert await client.files.upload(_stream(JPEG + b"x" * 1000)) == "u/x.jpg"
    assert plain_server.received < LIMIT + 1024 + (1000 + 2 * len(JPEG))


async def test_known_size_over_the_limit_sends_nothing(plain_server: Recorder) -> None:
    base = f"http://127.0.0.1:{plain_server.port}/api"
    async with kycflow.Client(base, max_upload_bytes=LIMIT) as client:
        with pytest.raises(kycflow.DocumentError):
            await client.files.upload(JPEG + b"x" * LIMIT, name="big.jpg")
    assert plain_server.requests == []
    assert plain_server.received == 0


async def test_sandbox_stores_nothing_from_a_stream_over_the_limit() -> None:
    async with Sandbox() as sb:
        user = sb.create_user()
        async with kycflow.Client(
            sb.base_url, auth=kycflow.BearerToken(user.access_token), max_upload_bytes=LIMIT
        ) as client:
            with pytest.raises(kycflow.DocumentError):
                await client.files.upload(_stream(JPEG + b"y" * (LIMIT * 4)))
        assert sb.uploads() == []


async def test_cookies_are_never_stored_or_shared() -> None:
    cookies: list[str | None] = []

    async def set_cookie(request: web.Request) -> web.StreamResponse:
        cookies.append(request.headers.get("Cookie"))
        response = web.json_response(WIZARD)
        response.set_cookie("session", "alice-session-cookie", path="/")
        return response

    server = Recorder()
    server.handle = set_cookie  # type: ignore[method-assign]
    await server.start()
    try:
        # A host name, not an IP: aiohttp's default jar would keep this cookie and send it back.
        base = f"http://localhost:{server.port}/api"
        async with kycflow.Client(base, auth=kycflow.BearerToken("alice")) as client:
            await client.wizard.start()
            await client.with_auth(kycflow.BearerToken("bob")).wizard.start()
            await client.wizard.start()
    finally:
        await server.close()
    assert cookies == [None, None, None]


async def test_proxy_environment_is_ignored(
    plain_server: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A proxy from the environment would see every token: the client never consults it.
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    base = f"http://127.0.0.1:{plain_server.port}/api"
    async with kycflow.Client(base, auth=kycflow.BearerToken(TOKEN), max_retries=0) as client:
        step = await client.wizard.start()
    assert step.uuid == "w-1"
    assert plain_server.authorizations == [f"Bearer {TOKEN}"]
