"""Run a sandbox on its own event loop in a background thread (for synchronous tests)."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator

from .sandbox import Sandbox

__all__ = ["run_in_thread"]

_TIMEOUT = 30.0


@contextlib.contextmanager
def run_in_thread(sandbox: Sandbox) -> Iterator[Sandbox]:
    """Serve ``sandbox`` from a daemon thread for the ``with`` block.

    The test thread may call its helpers (``create_user``, ``submissions``...) while it serves:
    they are plain dict and list operations, atomic enough under the GIL for test use.
    """
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="kycflow-sandbox", daemon=True)
    thread.start()
    try:
        asyncio.run_coroutine_threadsafe(sandbox.start(), loop).result(_TIMEOUT)
        try:
            yield sandbox
        finally:
            asyncio.run_coroutine_threadsafe(sandbox.stop(), loop).result(_TIMEOUT)
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(_TIMEOUT)
        loop.close()
