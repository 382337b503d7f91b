"""What the watchers share: reading a user's new history pages, and ``Done``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Generator
from typing import Any

from .._constants import LEVEL_HISTORY_PAGE, LEVEL_HISTORY_SCAN_PAGES
from ..client import Client
from ..models import Verification
from ..resources.levels import Cursor, is_newest_first, new_entries

__all__ = ["Done", "read_new"]


class Done:
    """The result of ``add``, ``touch`` and ``remove``: already done, and awaitable as well."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __bool__(self) -> bool:
        return bool(self.value)

    def __await__(self) -> Generator[Any, None, Any]:
        return self.value
        yield  # a generator that finishes at once: ``await`` gives ``value``

    def __repr__(self) -> str:
        return repr(self.value)


async def read_new(
    view: Client,
    cursor: Cursor | None,
    acquire: Callable[[], Awaitable[None]],
    options: dict[str, Any],
) -> tuple[list[Verification], int]:
    """The newest history page, and further pages while every entry on one is new (more grants
    than a page between two polls), so none is skipped; ``(entries, pages read)``.

    The first page's rate token is the caller's; ``acquire`` takes one for each further page.
    """
    entries: list[Verification] = []
    offset = pages = 0
    while True:
        if pages:
            await acquire()
        page = await view.verifications.list(
            limit=LEVEL_HISTORY_PAGE,
            offset=offset,
            sort_by="createTime",
            sort_order="desc",
            **options,
        )
        pages += 1
        entries.extend(page.data)
        offset += len(page.data)
        if not page.data or offset >= page.total or pages >= LEVEL_HISTORY_SCAN_PAGES:
            return entries, pages
        if not is_newest_first(page.data):
            continue  # the server ignored sort_order: the newest entries are further on
        if cursor is None or len(new_entries(page.data, cursor)) < len(page.data):
            return entries, pages  # this page reaches the cursor
