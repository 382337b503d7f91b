"""The redaction processor and configure_logging."""

from __future__ import annotations

import logging

import pytest
import structlog

import kycflow
from kycflow._logging import REDACTED, is_enabled


def test_redacts_secret_keys_and_bytes() -> None:
    event = {
        "event": "x",
        "Authorization": "Bearer abc",
        "token": "t",
        "access_token": "a",
        "refresh_token": "r",
        "password": "p",
        "client_secret": "s",
        "x_auth_token": "z",
        "payload": b"\x00\x01",
        "nested": {"headers": {"authorization": "Bearer q"}, "items": [{"password": "w"}]},
        "path": "/v2/my/verifications",
    }
    out = kycflow.redact_processor(None, "info", dict(event))
    for key in ("Authorization", "token", "access_token", "refresh_token", "password"):
        assert out[key] == REDACTED
    assert out["client_secret"] == REDACTED
    assert out["x_auth_token"] == REDACTED
    assert out["payload"] == "<2 bytes>"
    assert out["nested"]["headers"]["authorization"] == REDACTED
    assert out["nested"]["items"][0]["password"] == REDACTED
    assert out["path"] == "/v2/my/verifications"
    assert out["event"] == "x"


def test_configure_logging_filters_levels_and_redacts(capsys: pytest.CaptureFixture[str]) -> None:
    try:
        kycflow.configure_logging("INFO", json=True)
        log = structlog.get_logger("kycflow")
        assert not is_enabled(log, logging.DEBUG)
        assert is_enabled(log, logging.INFO)
        log.debug("hidden", a=1)
        log.info("shown", password="hunter2")
        out = capsys.readouterr().out
        assert "hidden" not in out
        assert "shown" in out
        assert "hunter2" not in out
        with pytest.raises(ValueError, match="unknown log level"):
            kycflow.configure_logging("LOUD")
    finally:
        structlog.reset_defaults()
