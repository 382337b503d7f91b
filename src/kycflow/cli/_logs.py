"""kycflow's structlog output on the CLI's stderr, with known secrets masked."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from typing import Any, TextIO

import structlog

from .._logging import redact_processor
from ._secrets import secrets

__all__ = ["configure_cli_logging"]


class _ScrubbingStream:
    """A text stream that masks known secrets before writing (for log output)."""

    def __init__(self, target: Callable[[], TextIO]) -> None:
        self._target = target

    def write(self, text: str) -> int:
        self._target().write(secrets.scrub(text))
        return len(text)

    def flush(self) -> None:
        self._target().flush()


def configure_cli_logging(verbose: bool) -> None:
    """kycflow's structlog output goes to stderr: warnings only, or everything with --verbose."""
    level = logging.DEBUG if verbose else logging.WARNING
    stream: Any = _ScrubbingStream(lambda: sys.stderr)
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="%H:%M:%S"),
            redact_processor,
            structlog.dev.ConsoleRenderer(colors=False),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(file=stream),
        cache_logger_on_first_use=False,
    )
