"""A document's byte streams: a file read in a worker thread, or bytes in memory."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, BinaryIO

__all__ = ["StreamFactory", "bytes_chunks", "file_chunks"]

StreamFactory = Callable[[int], AsyncIterator[bytes]]


async def file_chunks(
    path: Path, chunk_size: int, opener: Callable[[], BinaryIO] | None = None
) -> AsyncIterator[bytes]:
    # Reads happen in a worker thread so a slow disk never blocks the event loop; the file is
    # closed in ``finally`` even when the consumer is cancelled and closes the generator.
    # ``opener`` (a provider's confined open) replaces opening ``path`` by name.
    open_file: Callable[[], BinaryIO] = opener or (lambda: path.open("rb"))
    opening = asyncio.ensure_future(asyncio.to_thread(open_file))
    try:
        handle = await asyncio.shield(opening)
    except asyncio.CancelledError:
        # The worker thread opens the file regardless (an aiohttp writer task is cancelled
        # when the server answers before reading the body): close it once it is open.
        opening.add_done_callback(_close_opened)
        raise
    try:
        while True:
            chunk = await asyncio.to_thread(handle.read, chunk_size)
            if not chunk:
                return
            yield chunk
    finally:
        handle.close()


def _close_opened(opening: asyncio.Future[Any]) -> None:
    # A done callback: the open may also have failed (nothing to close) or been cancelled.
    if not opening.cancelled() and opening.exception() is None:
        opening.result().close()


async def bytes_chunks(data: bytes, chunk_size: int) -> AsyncIterator[bytes]:
    view = memoryview(data)
    for start in range(0, len(view), chunk_size):
        yield bytes(view[start : start + chunk_size])
