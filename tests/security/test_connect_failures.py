"""Failures before any reply that a loopback server cannot stage: a name that does not resolve,
a certificate that fails verification, a pinned fingerprint that does not match, a network that
is unreachable mid-connect. Each is raised by aiohttp's session (here by aioresponses, which
replaces ``ClientSession._request``: no socket is opened, unmatched URLs fail too), and each must
come out of the public client as the right typed ``KycflowError``, resent or not per the retry
policy, with no secret in the rendered error.
"""

from __future__ import annotations

import errno
import json
import socket
import ssl
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import aiohttp
import pytest
from aioresponses import aioresponses
from seckit import ACCESS, PASSWORD, failure, leaks, rendered

import kycflow
from kycflow import errors as e

pytestmark = pytest.mark.aioresponses

HOST = "kyc.invalid"  # never resolves; aioresponses answers before any lookup anyway
BASE = f"https://{HOST}/api"
WIZARD = f"{BASE}/v2/my/verifications/wizard"
SUBMIT = f"{BASE}/v2/my/verifications"
SIGNIN_WIZARD = f"{BASE}/v2/my/signin/wizard"
SIGNIN = f"{BASE}/v2/my/signin"
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
SUBMIT_REPLY = json.loads((FIXTURES / "wizard_submit_reply.json").read_text())
FILES = ["id_card.jpeg"]


def _key() -> Any:
    # What ClientConnectorError reads from aiohttp's ConnectionKey (its fields vary by version).
    return SimpleNamespace(host=HOST, port=443, ssl=True, is_ssl=True)


def dns_failure() -> aiohttp.ClientConnectorError:
    gaierror = socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    # aiohttp 3.10 raises a plain ClientConnectorError; later ones a subclass for DNS.
    kind = getattr(aiohttp, "ClientConnectorDNSError", aiohttp.ClientConnectorError)
    return kind(_key(), gaierror)  # type: ignore[no-any-return]


def unreachable() -> aiohttp.ClientConnectorError:
    return aiohttp.ClientConnectorError(_key(), OSError(errno.ENETUNREACH, "Network unreachable"))


def bad_certificate() -> aiohttp.ClientConnectorCertificateError:
    cert_error = ssl.SSLCertVerificationError(1, "certificate verify failed: self-signed")
    return aiohttp.ClientConnectorCertificateError(_key(), cert_error)


def fingerprint_mismatch() -> aiohttp.ServerFingerprintMismatch:
    return aiohttp.ServerFingerprintMismatch(b"\x01" * 32, b"\x02" * 32, HOST, 443)


def reset_after_sending() -> aiohttp.ClientOSError:
    return aiohttp.ClientOSError(errno.ECONNRESET, "Connection reset by peer")


@pytest.fixture
def mocked() -> Iterator[aioresponses]:
    with aioresponses() as m:
        yield m


def client() -> kycflow.Client:
    return kycflow.Client(
        BASE, auth=kycflow.BearerToken(ACCESS), initial_backoff=0.001, max_backoff=0.002
    )


def sent(m: aioresponses, method: str, url: str) -> int:
    return sum(
        len(calls) for (verb, u), calls in m.requests.items() if verb == method and str(u) == url
    )


def assert_clean(exc: BaseException) -> None:
    assert isinstance(exc, e.KycflowError)
    assert leaks(rendered(exc)) == []


# ---- reads (GET: idempotent, retried on anything transient) ---------------------------------


@pytest.mark.parametrize(
    ("fault", "error", "attempts"),
    [
        (dns_failure, e.APIConnectError, 3),  # the default two retries: it may resolve later
        (unreachable, e.APIConnectError, 3),
        (bad_certificate, e.APITLSError, 1),  # the same certificate comes back: no retry
        (fingerprint_mismatch, e.APITLSError, 1),
    ],
)
async def test_a_read_maps_each_connect_failure(
    mocked: aioresponses, fault: Any, error: type[e.APIError], attempts: int
) -> None:
    for _ in range(attempts + 1):
        mocked.get(WIZARD, exception=fault())
    async with client() as c:
        exc = await failure(c.wizard.start())
    assert type(exc) is error
    assert sent(mocked, "GET", WIZARD) == attempts
    assert_clean(exc)


async def test_a_dns_failure_names_the_host_and_the_lookup_error(mocked: aioresponses) -> None:
    mocked.get(WIZARD, exception=dns_failure(), repeat=True)
    async with kycflow.Client(BASE, max_retries=0) as c:
        exc = await failure(c.wizard.start())
    assert isinstance(exc, e.APIConnectError)
    assert HOST in str(exc)
    assert "gaierror" in str(exc)


# ---- wizard submit (POST, never resent once it may have left) -------------------------------


@pytest.mark.parametrize("fault", [dns_failure, unreachable])
async def test_a_submit_that_never_left_is_resent_once_and_succeeds(
    mocked: aioresponses, fault: Any
) -> None:
    mocked.post(SUBMIT, exception=fault())
    mocked.post(SUBMIT, payload=SUBMIT_REPLY)
    async with client() as c:
        step = await c.wizard.submit("wiz-1", 1, FILES)
    assert step.is_final
    assert sent(mocked, "POST", SUBMIT) == 2


@pytest.mark.parametrize("fault", [bad_certificate, fingerprint_mismatch])
async def test_a_submit_refused_by_tls_is_not_resent_and_not_an_unknown_outcome(
    mocked: aioresponses, fault: Any
) -> None:
    mocked.post(SUBMIT, exception=fault(), repeat=True)
    async with client() as c:
        exc = await failure(c.wizard.submit("wiz-1", 1, FILES))
    assert type(exc) is e.APITLSError  # the request never left: its outcome is known
    assert sent(mocked, "POST", SUBMIT) == 1
    assert_clean(exc)


async def test_a_submit_reset_after_sending_is_an_unknown_outcome_not_resent(
    mocked: aioresponses,
) -> None:
    mocked.post(SUBMIT, exception=reset_after_sending(), repeat=True)
    async with client() as c:
        exc = await failure(c.wizard.submit("wiz-1", 1, FILES))
    assert isinstance(exc, e.OutcomeUnknownError)
    assert isinstance(exc.cause, e.APIConnectionError)
    assert sent(mocked, "POST", SUBMIT) == 1
    assert_clean(exc)


# ---- sign-in (the password is in the body; only a provable connect error is retried) -------


@pytest.mark.parametrize(
    ("fault", "error", "attempts"),
    [
        (dns_failure, e.APIConnectError, 3),
        (unreachable, e.APIConnectError, 3),
        (bad_certificate, e.APITLSError, 1),
        (fingerprint_mismatch, e.APITLSError, 1),
        (reset_after_sending, e.OutcomeUnknownError, 1),  # may have counted: never repeated
    ],
)
async def test_sign_in_failures_keep_the_password_out_of_the_error(
    mocked: aioresponses, fault: Any, error: type[e.APIError], attempts: int
) -> None:
    wizard = {"code": 200, "data": None, "done": False, "uuid": "sig-1", "workflow": "x"}
    mocked.get(SIGNIN_WIZARD, payload=wizard, repeat=True)
    for _ in range(attempts + 1):
        mocked.post(SIGNIN, exception=fault())
    async with kycflow.Client(BASE, initial_backoff=0.001, max_backoff=0.002) as c:
        exc = await failure(kycflow.sign_in(c, "someone@example.test", PASSWORD))
    assert isinstance(exc, error)
    assert sent(mocked, "POST", SIGNIN) == attempts
    assert_clean(exc)
    assert leaks(rendered(exc), [PASSWORD]) == []
