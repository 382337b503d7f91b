"""Paging through a list endpoint: the query of one page, and every item across pages."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from typing import Protocol, TypeVar

from .._http.urls import filter_params
from ..errors import ConfigurationError

__all__ = ["check_count", "iterate_pages", "page_params"]

T_co = TypeVar("T_co", covariant=True)
_SORT_ORDERS = frozenset({"asc", "desc"})


class Page(Protocol[T_co]):
    """A page of a list reply: its items and the server's total."""

    @property
    def total(self) -> int: ...

    @property
    def data(self) -> Sequence[T_co]: ...


def check_count(name: str, value: int | None, minimum: int) -> None:
    """Refuse a count that is not an int >= ``minimum`` (None passes)."""
    if value is not None and (
        isinstance(value, bool) or not isinstance(value, int) or value < minimum
    ):
        raise ConfigurationError(f"{name} must be an int >= {minimum}")


def page_params(
    limit: int | None,
    offset: int | None,
    sort_by: str | None,
    sort_order: str | None,
    filters: Mapping[str, object] | None,
) -> list[tuple[str, str]]:
    """The query of one page (``filters`` become ``filter[<field>]=<value>``)."""
    check_count("limit", limit, 0)
    check_count("offset", offset, 0)
    if sort_order is not None and sort_order not in _SORT_ORDERS:
        raise ConfigurationError("sort_order must be 'asc' or 'desc'")
    params = [(k, str(v)) for k, v in (("limit", limit), ("offset", offset)) if v is not None]
    params += [(k, v) for k, v in (("sort_by", sort_by), ("sort_order", sort_order)) if v]
    return params + filter_params(filters)


async def iterate_pages(
    read: Callable[[int, int], Awaitable[Page[T_co]]], page_size: int
) -> AsyncIterator[T_co]:
    """Every item of ``read(limit, offset)``'s pages; stops on an empty page or once offset
    reaches the total."""
    check_count("page_size", page_size, 1)
    offset = 0
    while True:
        page = await read(page_size, offset)
        for item in page.data:
            yield item
        offset += len(page.data)
        if not page.data or offset >= page.total:
            return
