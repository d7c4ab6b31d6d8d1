"""GitHub list results as a typed, lazy, restartable async iterator.

The walking itself (``Link: <...>; rel="next"``, refusing a next link to another origin) is
:func:`jirabridge.http.link_pages`; this adds parsing into models and the conveniences callers
want (``async for``, whole pages, ``collect``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any, Generic, TypeVar

from jirabridge.http import HttpClient, link_pages

__all__ = ["Paginator"]

T = TypeVar("T")


class Paginator(Generic[T]):
    """Items of a GitHub list endpoint, fetched page by page as they are consumed.

    ``async for item in paginator`` walks every page; :meth:`pages` yields whole pages and
    :meth:`collect` gathers everything into a list. Nothing is requested until iteration starts,
    and each iteration starts again from the first page. ``None`` parameters are left out.
    """

    def __init__(
        self,
        http: HttpClient,
        path: str,
        parse: Callable[[Any], T],
        *,
        params: Mapping[str, Any] | None = None,
        max_pages: int | None = None,
    ) -> None:
        self._http = http
        self._path = path
        self._parse = parse
        self._params = {k: v for k, v in (params or {}).items() if v is not None}
        self._max_pages = max_pages

    async def pages(self) -> AsyncIterator[list[T]]:
        """Yield each page's items, parsed."""
        async for raw in link_pages(
            self._http, self._path, params=self._params, max_pages=self._max_pages
        ):
            yield [self._parse(item) for item in raw]

    async def __aiter__(self) -> AsyncIterator[T]:
        async for page in self.pages():
            for item in page:
                yield item

    async def collect(self) -> list[T]:
        """Fetch every page and return all items."""
        return [item async for item in self]
