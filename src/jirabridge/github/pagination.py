"""Follow GitHub's ``Link: <...>; rel="next"`` pagination as an async iterator."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any, Generic, TypeVar

import httpx

from jirabridge.errors import ValidationError
from jirabridge.http import HttpClient

__all__ = ["Paginator"]

T = TypeVar("T")


class Paginator(Generic[T]):
    """Items of a GitHub list endpoint, fetched page by page as they are consumed.

    ``async for item in paginator`` walks every page; :meth:`pages` yields whole pages and
    :meth:`collect` gathers everything into a list. Nothing is requested until iteration starts,
    and each iteration starts again from the first page.

    The ``next`` link must stay on the API's own scheme, host and port: the request carries the
    token, and a link pointing elsewhere is refused rather than followed.
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

    def _check_next(self, next_url: str) -> str:
        base = httpx.URL(self._http.base_url)
        target = httpx.URL(next_url)
        if (target.scheme, target.host, target.port) != (base.scheme, base.host, base.port):
            raise ValidationError(
                "GitHub returned a next-page link to another host; refusing to follow it",
                details={"host": target.host},
            )
        return next_url

    async def pages(self) -> AsyncIterator[list[T]]:
        """Yield each page's items as a list."""
        url: str | None = self._path
        params: Mapping[str, Any] | None = self._params
        fetched = 0
        while url is not None:
            response = await self._http.request("GET", url, params=params)
            fetched += 1
            # 204 No Content is GitHub's answer for some empty lists (e.g. an empty repo's
            # contributors).
            raw = response.json() if response.status_code != 204 and response.content else []
            if not isinstance(raw, list):
                raise ValidationError(f"GitHub answered GET {self._path} with a non-list body")
            yield [self._parse(item) for item in raw]
            next_link = response.links.get("next", {}).get("url")
            if next_link is None or (self._max_pages is not None and fetched >= self._max_pages):
                break
            # The next link already carries every query parameter.
            url, params = self._check_next(next_link), None

    async def __aiter__(self) -> AsyncIterator[T]:
        async for page in self.pages():
            for item in page:
                yield item

    async def collect(self) -> list[T]:
        """Fetch every page and return all items."""
        return [item async for item in self]
