"""Secrets never leak: a full session at DEBUG (sign-in with a second factor, token refresh,
uploads, a run, failures), then every log line, exception and repr is searched for them."""

from __future__ import annotations

import asyncio
import base64
import logging
import traceback
import urllib.parse
from collections.abc import Iterator, MutableMapping
from typing import Any

import pytest
import structlog
from fakeclock import FakeClock

import kycflow
from kycflow.testing import Faults, Sandbox

PASSWORD = "Pw/+ =&!x-HUNTER2-SECRET"
OTP = "OTP9x7Q2zz"
MARKERS = [b"DOCMARKER-passport-7f3a9c", b"DOCMARKER-selfie-1b2c3d", b"DOCMARKER-address-9e8d7c"]
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(256))
PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n"
AIOHTTP_LOGGERS = [
    "aiohttp",
    "aiohttp.client",
    "aiohttp.server",
    "aiohttp.access",
    "aiohttp.internal",
    "aiohttp.web",
    "aiohttp.websocket",
    "asyncio",
    "kycflow",
]


def forms(secret: str | bytes) -> set[str]:
    """The value as it might be leaked: raw, url-encoded, and Base64 at every alignment."""
    raw = secret.encode() if isinstance(secret, str) else secret
    text = raw.decode("latin-1")
    out = {text, urllib.parse.quote(text), urllib.parse.quote_plus(text)}
    for pad in range(3):
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            encoded = encode(b"\x00" * pad + raw).decode()
            out.add(encoded[4:-4])  # only the characters that depend on the secret alone
    return {form for form in out if len(form) >= 8}


class Capture(logging.Handler):
    """Every stdlib record, formatted with its traceback, plus its raw args."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))
        self.lines.append(repr(record.args))
        self.lines.append(repr(getattr(record, "_logger", "")))


@pytest.fixture
def capture() -> Iterator[tuple[Capture, list[str]]]:
    handler = Capture()
    root = logging.getLogger()
    old_level = root.level
    levels = {name: logging.getLogger(name).level for name in AIOHTTP_LOGGERS}
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    for name in AIOHTTP_LOGGERS:
        logging.getLogger(name).setLevel(logging.DEBUG)
    events: list[str] = []

    def keep(logger: Any, method: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
        events.append(repr(event))  # the raw event: no redaction in the way
        return event

    # Deliberately without kycflow's redact_processor: the events themselves must be clean.
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            keep,
            structlog.processors.format_exc_info,
            structlog.processors.KeyValueRenderer(),
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.make_filtering_bound_logger(logging.DEBUG),
        cache_logger_on_first_use=False,
    )
    try:
        yield handler, events
    finally:
        structlog.reset_defaults()
        root.removeHandler(handler)
        root.setLevel(old_level)
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)


def describe(exc: BaseException) -> str:
    """Everything an application could print about an error: str, repr, attributes, chain."""
    parts = ["".join(traceback.format_exception(exc))]
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        item = todo.pop()
        if item is None or id(item) in seen:
            continue
        seen.add(id(item))
        parts += [str(item), repr(item), repr(vars(item)) if hasattr(item, "__dict__") else ""]
        todo += [item.__cause__, item.__context__, getattr(item, "cause", None)]
    return "\n".join(parts)


async def test_no_secret_in_logs_errors_or_reprs(capture: tuple[Capture, list[str]]) -> None:
    handler, events = capture
    texts: list[str] = []
    async with Sandbox(access_token_ttl=1.0, faults=Faults(seed=3)) as sb:
        issued = sb.state.issued_tokens  # every token the sandbox hands out
        user = sb.create_user("secret.keeper@sandbox.test", PASSWORD, "google", code=OTP)
        refreshed: list[kycflow.TokenPair] = []

        async def on_refresh(pair: kycflow.TokenPair) -> None:
            refreshed.append(pair)

        async def second_factor(kind: str) -> str:
            assert kind == "google"
            return OTP

        client = kycflow.Client(
            sb.base_url, max_retries=2, initial_backoff=0.01, max_backoff=0.02, timeout=10.0
        )
        async with client:
            auth = await client.sign_in(
                user.email,
                PASSWORD,
                second_factor=second_factor,
                on_refresh=on_refresh,
                refresh_margin=0.0,
            )
            view = client.with_auth(auth)
            await view.verifications.list()
            first_access = auth.tokens.access_token.token.get_secret_value()
            await asyncio.sleep(1.2)  # the access token expires: the next call refreshes first

            # A run with faults on the way: a retried 503, a submit reset after its commit.
            sb.set_faults(
                Faults(seed=3)
                .fail_next("wizard", "5xx", status=503)
                .fail_next("submit", "reset_after")
                .fail_next("upload", "reset_before")
            )
            provider = kycflow.MemoryProvider(
                {
                    2: ("passport.jpg", JPEG + MARKERS[0]),
                    3: ("selfie.jpg", JPEG + MARKERS[1]),
                    4: ("proof_of_address.pdf", PDF + MARKERS[2]),
                }
            )
            store = kycflow.MemoryCheckpointStore()
            run_events: list[kycflow.WizardEvent] = []
            runner = kycflow.WizardRunner(
                view,
                provider,
                checkpoint_store=store,
                checkpoint_key="secret-run",
                on_event=run_events.append,
                sleep=FakeClock().sleep,  # the settle after the reset submit: not slept
            )
            result = await runner.run()
            assert result.done
            assert refreshed, "the short TTL must have caused a refresh"
            assert any(step.reconciled for step in result.steps)

            # Failures. A 401: the first access token was replaced by the refresh.
            with pytest.raises(kycflow.AuthenticationError) as e401:
                await client.with_auth(kycflow.BearerToken(first_access)).verifications.list()
            # A 500 that outlasts the retries.
            sb.set_faults(Faults().fail_next("history", "5xx", 3, status=500))
            with pytest.raises(kycflow.ServerError) as e500:
                await view.verifications.list()
            # A document refused locally (its bytes are not what its name claims).
            with pytest.raises(kycflow.DocumentError) as edoc:
                await view.files.upload(MARKERS[0] + JPEG, name="passport.jpg")
            # ProtocolErrors: a cut-short wizard reply (retried, then raised) ...
            sb.set_faults(Faults().fail_next("wizard", "malformed_json", 3))
            with pytest.raises(kycflow.ProtocolError) as eproto:
                await view.wizard.start()
            # A submit whose connection breaks after the server saw it.
            sb.set_faults(Faults().fail_next("submit", "reset_before"))
            with pytest.raises(kycflow.OutcomeUnknownError) as ereset:
                await view.wizard.submit("no-such-procedure", 2, ["u1/x.jpg"])
            # ... and a cut-short refresh reply, which carries half a new token: the rotated
            # tokens are lost, the old refresh token is refused, the session is over.
            sb.set_faults(Faults().fail_next("refresh", "malformed_json"))
            with pytest.raises(kycflow.AuthenticationError, match="reply was lost") as erefresh:
                await auth.refresh(client)
            # A wrong second factor.
            sb.set_faults(Faults())

            async def wrong_factor(kind: str) -> str:
                return OTP[::-1]

            with pytest.raises(kycflow.AuthenticationError) as ewrong:
                await client.sign_in(user.email, PASSWORD, second_factor=wrong_factor)
            errors = [e401, e500, edoc, eproto, erefresh, ereset, ewrong]

            texts += [describe(info.value) for info in errors]
            checkpoint = await store.load("secret-run")
            docs = [d for t in (2, 3, 4) for d in await provider.documents_for(_type(t)) or []]
            texts += [
                repr(client),
                repr(view),
                repr(auth),
                repr(auth.tokens),
                str(auth.tokens),
                repr(runner),
                repr(result),
                repr(result.final_step),
                repr(checkpoint),
                repr(store),
                repr(provider),
                repr(docs),
                repr(refreshed),
                repr(run_events),
                repr([ev.to_dict() for ev in run_events]),
            ]

    haystack = "\n".join([*handler.lines, *events, *texts])
    # The capture really saw the session.
    assert "http.request" in haystack
    assert "auth.refresh" in haystack
    assert "wizard.step_submitted" in haystack
    assert "http.retry" in haystack
    secrets: list[str | bytes] = [PASSWORD, OTP, *issued, *MARKERS]
    assert len(set(issued)) >= 6
    for secret in secrets:
        for form in forms(secret):
            at = haystack.find(form)
            # The message shows what precedes the leak, never the secret itself.
            assert at < 0, f"a secret leaked after: {haystack[max(0, at - 300) : at]!r}"
    assert "Bearer " not in haystack


def _type(type_id: int) -> kycflow.DocumentType:
    names = {2: "Passport", 3: "Selfie", 4: "Proof of address"}
    return kycflow.DocumentType(id=type_id, description=names[type_id])


def test_forms_would_find_a_leak() -> None:
    """The search is not vacuous: every form of a secret is found where it was put."""
    token = "at_abcdefghijklmnopqrstuvwxyz012345"
    leaks = [
        f"Authorization: Bearer {token}",
        "fingerprint=" + base64.b64encode(b'{"t":"' + token.encode() + b'"}').decode(),
        "q=" + urllib.parse.quote_plus(PASSWORD),
    ]
    assert any(f in leaks[0] for f in forms(token))
    assert any(f in leaks[1] for f in forms(token))
    assert any(f in leaks[2] for f in forms(PASSWORD))
