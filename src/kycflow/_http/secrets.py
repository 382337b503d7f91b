"""Secrets held behind a redacted ``repr``, and a request's secrets scrubbed out of its error.

Error trackers (Sentry, ``traceback`` with ``capture_locals=True``) render every local of every
frame with ``repr``: a password, a token or document bytes held as a plain ``str``/``bytes`` in
a kycflow frame would be printed. These wrappers keep the raw value for the one place that
needs it (aiohttp, the JSON encoder) and print ``[redacted]`` everywhere else.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote, quote_plus

from ..errors import APIStatusError, ConfigurationError, ProtocolError
from .decoding import excerpt

__all__ = [
    "REDACTED",
    "Secret",
    "SecretBytes",
    "SecretHeader",
    "SecretValues",
    "encode_json",
    "request_secrets",
    "scrub_error",
    "scrub_protocol_error",
    "scrub_text",
    "without_echoed_credentials",
]

REDACTED = "[redacted]"
# A truncated text ("...") ending in this many characters of a secret is cut there too.
_MIN_PREFIX = 2
_MAX_DEPTH = 8


class Secret:
    """A secret JSON value (a password, a code, a refresh token): the transport's JSON encoder
    writes the raw value, and the request's error reply is scrubbed of it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The raw value."""
        return self._value

    def __repr__(self) -> str:
        return f"Secret('{REDACTED}')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


class SecretHeader(str):
    """A header value (``Bearer ...``) whose ``repr`` is redacted; aiohttp sends it as a str."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"'{REDACTED}'"


class SecretBytes(bytes):
    """Bytes (a JSON body with credentials, a reply echoing them) with a redacted ``repr``."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"<{len(self)} bytes {REDACTED}>"

    __str__ = __repr__


class SecretValues(tuple[str, ...]):
    """The raw secrets of a request, for scrubbing its error; the ``repr`` shows their count."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"<{len(self)} secrets {REDACTED}>"

    __str__ = __repr__


NO_SECRETS = SecretValues()


def request_secrets(body_secrets: Iterable[str], headers: Mapping[str, str]) -> list[str]:
    """A request's secrets: those of its body, and its credential headers with and without
    their scheme (``Bearer abc`` and ``abc``)."""
    found = [s for s in body_secrets if s]
    for value in headers.values():
        raw = str(value)
        found.append(raw)
        scheme, _, credential = raw.partition(" ")
        if credential and scheme:
            found.append(credential)
    return found


# Shorter credentials are not cut out of a 2xx reply: replacing a common substring there would
# corrupt legitimate content. Real tokens are far longer.
_MIN_ECHO_CHARS = 16
_REDACTED_BYTES = REDACTED.encode()


def without_echoed_credentials(body: bytes, headers: Mapping[str, str]) -> bytes:
    """``body`` (a 2xx reply) with the credentials of ``headers`` (``Bearer <token>``) cut out:
    a reply that echoes them must not carry them into results or errors."""
    for value in headers.values():
        credential = value.partition(" ")[2] or value
        if len(credential) >= _MIN_ECHO_CHARS:
            raw = credential.encode()
            if raw in body:
                body = body.replace(raw, _REDACTED_BYTES)
    return body


def _forms(secrets: Iterable[str]) -> list[str]:
    forms: set[str] = set()
    for secret in secrets:
        if not secret:
            continue
        forms.add(secret)
        forms.add(json.dumps(secret)[1:-1])  # as a JSON string holds it (\" \\ \u00e9)
        forms.add(json.dumps(secret, ensure_ascii=False)[1:-1])
        forms.add(" ".join(secret.split()))  # as ``excerpt`` collapses whitespace
        forms.add(repr(secret)[1:-1])  # as a Python server quotes it ({value!r})
        forms.add(ascii(secret)[1:-1])
        forms.add(quote(secret, safe=""))  # URL-encoded, as a form body or query echoes it
        forms.add(quote_plus(secret))
        for inner in (json.dumps(secret)[1:-1], json.dumps(secret, ensure_ascii=False)[1:-1]):
            forms.add(json.dumps(inner)[1:-1])  # JSON quoted inside a JSON string
            forms.add(json.dumps(inner, ensure_ascii=False)[1:-1])
    # Longest first: a form that contains another is replaced whole.
    return sorted((f for f in forms if f), key=len, reverse=True)


def scrub_text(text: str, forms: list[str]) -> str:
    """``text`` with every form of every secret replaced by ``[redacted]``.

    A text cut short (ending in ``...``) that ends in the start of a secret loses that start.
    """
    present = [form for form in forms if form in text]
    if present:
        # One pass (longest first): a short secret never matches inside a ``[redacted]`` that
        # an earlier replacement wrote.
        text = re.sub("|".join(map(re.escape, present)), REDACTED, text)
    if text.endswith("..."):
        head = text[:-3]
        for form in forms:
            for size in range(min(len(form) - 1, len(head)), _MIN_PREFIX - 1, -1):
                if head.endswith(form[:size]):
                    return head[:-size] + REDACTED + "..."
    return text


def _scrub_value(value: Any, forms: list[str], secrets: set[str], depth: int = 0) -> Any:
    if isinstance(value, str):
        return scrub_text(value, forms)
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int | float):
        # A numeric 2FA code echoed as a JSON number.
        return REDACTED if str(value) in secrets else value
    if depth >= _MAX_DEPTH:
        return REDACTED
    if isinstance(value, Mapping):
        return {
            scrub_text(str(k), forms): _scrub_value(v, forms, secrets, depth + 1)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [_scrub_value(v, forms, secrets, depth + 1) for v in value]
    return scrub_text(str(value), forms)


def scrub_protocol_error(error: ProtocolError, secrets: Iterable[str]) -> ProtocolError:
    """Remove a request's ``secrets`` from a ``ProtocolError`` about its reply, in place
    (a 2xx reply that echoed the request and could not be read)."""
    forms = _forms([s for s in secrets if s])
    if forms:
        error.message = scrub_text(error.message, forms)
        error.args = (error.message, *error.args[1:])
        error.excerpt = scrub_text(error.excerpt, forms)
    return error


def scrub_error(error: APIStatusError, secrets: Iterable[str], body: bytes) -> APIStatusError:
    """Remove a request's ``secrets`` from the error its reply was decoded into, in place.

    Message, details and body excerpt keep the server's words; every secret of the request
    (exact, JSON-escaped, whitespace-collapsed) becomes ``[redacted]``. The excerpt is built
    again from the scrubbed body, so cutting it short cannot leave half a secret.
    """
    raw = [s for s in secrets if s]
    if not raw:
        return error
    forms = _forms(raw)
    old_excerpt = error.body_excerpt
    text = body.decode("utf-8", "replace") if body else ""
    new_excerpt = excerpt(scrub_text(text, forms)) if text else old_excerpt
    message = error.message
    if old_excerpt and new_excerpt != old_excerpt and old_excerpt in message:
        message = message.replace(old_excerpt, new_excerpt)
    message = scrub_text(message, forms)
    error.message = message
    error.args = (message, *error.args[1:])
    error.body_excerpt = scrub_text(new_excerpt, forms)
    error.details = _scrub_value(error.details, forms, set(raw))
    return error


class _Revealed(list[str]):
    """The raw secrets met while encoding, with a redacted ``repr``: a traceback rendering the
    encoder's locals (an unserialisable value after a password) must not print them."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"<{len(self)} secrets {REDACTED}>"

    __str__ = __repr__


class _SecretMet(Exception):
    """Raised by the plain encoder at the first ``Secret``: the body is encoded again, noting
    them (most bodies hold none, and are encoded once, with no separate walk)."""


def _no_secret(value: object) -> Any:
    if isinstance(value, Secret):
        raise _SecretMet
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


# ``json.dumps`` with any non-default argument builds a new encoder on every call.
_PLAIN_ENCODER = json.JSONEncoder(separators=(",", ":"), default=_no_secret)


def encode_json(body: object) -> tuple[SecretBytes, SecretValues]:
    """A JSON request body (with a redacted repr: a traceback rendering locals must not print
    a password) and the raw values of the ``Secret`` values in it, which are written raw only
    here, for scrubbing the request's error."""
    try:
        try:
            return SecretBytes(_PLAIN_ENCODER.encode(body).encode()), NO_SECRETS
        except _SecretMet:
            pass
        found = _Revealed()

        def reveal(value: object) -> Any:
            if isinstance(value, Secret):
                found.append(value.reveal())
                return found[-1]
            raise TypeError(f"{type(value).__name__} is not JSON serialisable")

        encoder = json.JSONEncoder(separators=(",", ":"), default=reveal)
        return SecretBytes(encoder.encode(body).encode()), SecretValues(found)
    except (TypeError, ValueError) as exc:
        raise ConfigurationError(
            f"request body is not JSON-serialisable ({type(exc).__name__})"
        ) from None
