"""Every kycflow event goes through the redacting logger, and none renders frame locals.

A user callback that fails while its frame holds a secret is logged by the batch and by the
runner: with structlog unconfigured (events go to stdlib logging) and configured with
structlog's defaults (a console renderer whose rich tracebacks show every local), no secret
reaches stdout, stderr or a log record.
"""

from __future__ import annotations

import ast
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import structlog
from aiohttp import web
from seckit import ACCESS, PASSWORD, Origin, json_reply, leaks, make_client

import kycflow

SRC = Path(kycflow.__file__).resolve().parent


@pytest.fixture
async def api() -> AsyncIterator[Origin]:
    async def handler(request: web.Request, body: bytes) -> web.StreamResponse:
        return json_reply({"error": {"message": "no"}}, status=403)

    srv = Origin(handler=handler)
    await srv.start()
    yield srv
    await srv.close()


def _failing_callback(*args: Any) -> None:
    password = PASSWORD  # a local a rich traceback would print
    raise RuntimeError(f"callback broke ({len(password)})")


async def _batch(api: Origin) -> list[kycflow.BatchResult]:
    jobs = [
        kycflow.BatchJob(key="j1", auth=kycflow.BearerToken(ACCESS), provider=_provider()),
    ]
    async with make_client(api.base_url) as client:
        return await kycflow.run_many(
            jobs, client=client, on_result=_failing_callback, on_progress=_failing_callback
        )


async def _runner(api: Origin) -> None:
    async with make_client(api.base_url) as client:
        runner = kycflow.WizardRunner(
            client.with_auth(kycflow.BearerToken(ACCESS)),
            _provider(),
            on_event=_failing_callback,
        )
        with pytest.raises(kycflow.PermissionDeniedError):
            await runner.run()


def _provider() -> kycflow.MemoryProvider:
    return kycflow.MemoryProvider({})


@pytest.mark.parametrize("structlog_state", ["unconfigured", "structlog-defaults"])
@pytest.mark.parametrize("flow", ["batch", "runner"])
async def test_failing_callbacks_log_no_secret_and_no_locals(
    api: Origin,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    structlog_state: str,
    flow: str,
) -> None:
    structlog.reset_defaults()
    if structlog_state == "structlog-defaults":
        # Configured, with structlog's own default processors: ConsoleRenderer, rich tracebacks.
        structlog.configure(processors=structlog.get_config()["processors"])
    caplog.set_level(logging.DEBUG, logger="kycflow")
    if flow == "batch":
        results = await _batch(api)
        assert not results[0].ok
        expected = "batch.callback_failed"
    else:
        await _runner(api)
        expected = "wizard.event_callback_failed"
    out, err = capsys.readouterr()
    records = "\n".join(r.getMessage() for r in caplog.records)
    everything = out + err + records
    assert expected in everything  # the failure was logged
    assert "RuntimeError" in everything  # by its type
    assert leaks(everything) == []
    assert "Traceback" not in everything
    assert "password" not in everything  # no local variable rendered, not even its name
    if structlog_state == "unconfigured":
        assert expected not in out  # a library prints nothing to its host's stdout


def test_exc_info_given_to_the_kycflow_logger_renders_no_traceback(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from kycflow._logging import get_logger

    structlog.reset_defaults()
    structlog.configure(processors=structlog.get_config()["processors"])
    log = get_logger()
    try:
        password = PASSWORD
        raise ValueError(len(password))
    except ValueError:
        log.warning("x.failed", exc_info=True)
        log.exception("y.failed")
    out, err = capsys.readouterr()
    assert "x.failed" in out
    assert "y.failed" in out
    assert out.count("error_type=ValueError") == 2
    assert leaks(out + err) == []
    assert "Traceback" not in out + err


def test_configure_logging_renders_plain_tracebacks_without_locals(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # An application's own exc_info events, rendered by kycflow.configure_logging: no locals.
    kycflow.configure_logging(logging.INFO)
    log = structlog.get_logger("app")
    try:
        password = PASSWORD
        raise ValueError(len(password))
    except ValueError:
        log.error("app.failed", exc_info=True)
    out, _ = capsys.readouterr()
    assert "Traceback" in out
    assert leaks(out) == []


def _calls_structlog_get_logger(path: Path) -> bool:
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in ("get_logger", "getLogger", "wrap_logger")
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id in ("structlog", "logging")
        ):
            return True
    return False


def test_every_library_module_logs_through_the_redacting_logger() -> None:
    # kycflow._logging builds the one logger; the CLI configures logging for its own process.
    allowed = set((SRC / "_logging").glob("*.py"))
    offenders = [
        str(path.relative_to(SRC))
        for path in SRC.rglob("*.py")
        if path not in allowed and "cli" not in path.parts and _calls_structlog_get_logger(path)
    ]
    assert offenders == []
