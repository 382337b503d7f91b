"""No secret in anything the SDK received: a session (sign-in with a password and a second
factor, a token refresh, uploads with faults, submits, failures) is recorded by an in-memory
exporter and reader, then every span name, attribute, event, status and metric attribute is
searched for tokens, the password, the code, the email, document bytes and stored paths."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import kycflow
from kycflow.testing import Faults, Sandbox

EMAIL = "span.keeper@sandbox.test"
PASSWORD = "Pw/+ =&!x-SPAN-HUNTER2"
OTP = "OTP7k3M9qq"
MARKERS = [b"DOCMARK-passport-51ad", b"DOCMARK-selfie-77be", b"DOCMARK-address-03cf"]
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(256))
PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n"


def _everything(otel: Any) -> list[str]:
    """Every string the SDK holds: span names, attributes, events, links, statuses, metrics."""
    out: list[str] = []
    for span in otel.spans():
        out += [span.name, repr(dict(span.attributes or {}))]
        out += [repr(span.status.description), repr(span.resource.attributes)]
        for event in span.events:
            out += [event.name, repr(dict(event.attributes or {}))]
        for link in span.links:
            out.append(repr(dict(link.attributes or {})))
    data = otel.reader.get_metrics_data()
    for resource in data.resource_metrics:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                out += [metric.name, metric.description, metric.unit]
                out += [repr(dict(p.attributes or {})) for p in metric.data.data_points]
    return out


async def test_no_secret_in_spans_or_metrics(otel: Any) -> None:
    async with Sandbox(access_token_ttl=1.0, faults=Faults(seed=5)) as sb:
        issued = sb.state.issued_tokens  # every token the sandbox hands out
        sb.create_user(EMAIL, PASSWORD, "google", code=OTP)

        async def second_factor(kind: str) -> str:
            return OTP

        client = kycflow.Client(sb.base_url, max_retries=2, initial_backoff=0.01, max_backoff=0.02)
        async with client:
            auth = await client.sign_in(
                EMAIL, PASSWORD, second_factor=second_factor, refresh_margin=0.0
            )
            view = client.with_auth(auth)
            await view.verifications.list()
            await asyncio.sleep(1.2)  # the access token expires: the next call refreshes
            sb.set_faults(
                Faults(seed=5)
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
            with otel.tracer.start_as_current_span("app.onboarding"):
                result = await kycflow.WizardRunner(view, provider).run()
            assert result.done
            stored = [path for step in result.steps for path in step.files]
            sb.set_faults(Faults())

            async def wrong_factor(kind: str) -> str:
                return OTP[::-1]

            with pytest.raises(kycflow.AuthenticationError):
                await client.sign_in(EMAIL, PASSWORD, second_factor=wrong_factor)

    texts = _everything(otel)
    haystack = "\n".join(texts)
    # The exporter really saw the session: sign-in, refresh, uploads, submits, a run.
    names = {s.name for s in otel.spans()}
    assert "kycflow.wizard.run" in names
    assert "POST /v2/my/files" in names
    assert "POST /v2/my/verifications" in names
    assert sum(1 for n in names if n.startswith("POST ") and "sign" in n) >= 1
    assert any("refresh" in n for n in names), names
    assert len(set(issued)) >= 4
    assert len(stored) == 3
    secrets = [EMAIL, EMAIL.split("@")[0], PASSWORD, OTP, *issued, *stored]
    secrets += [m.decode() for m in MARKERS]
    for secret in secrets:
        at = haystack.find(secret)
        assert at < 0, f"a secret leaked after: {haystack[max(0, at - 200) : at]!r}"
    assert "Bearer" not in haystack
    assert "?" not in "".join(s.name for s in otel.spans())
