"""SIGTERM ends a command the way Ctrl-C does: cleanly, with a message and JSON output."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType

__all__ = ["interrupting_signal", "sigterm_as_interrupt"]

_received: list[int] = []


def interrupting_signal() -> signal.Signals:
    """The signal that interrupted the command: SIGTERM if one came, else SIGINT (Ctrl-C)."""
    return signal.Signals(_received[-1]) if _received else signal.SIGINT


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """While the block runs, SIGTERM goes through the SIGINT handler in force: asyncio.run's
    (it cancels the main task, so every ``finally`` and ``async with`` unwinds) or Python's
    default (``KeyboardInterrupt``)."""
    _received.clear()
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_sigterm(signum: int, frame: FrameType | None) -> None:
        _received.append(signum)
        handler = signal.getsignal(signal.SIGINT)
        if callable(handler):
            handler(signal.SIGINT, frame)
        else:
            raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, on_sigterm)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
