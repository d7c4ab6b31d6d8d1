"""Generic async pagination over an :class:`~jirabridge.http.client.HttpClient`.

Three styles, each an async generator of *pages* (lists of items) so callers can batch (e.g. ids
from ``/search/jql`` into ``/issue/bulkfetch`` calls of 100); :func:`items` flattens pages:

- :func:`link_pages`: follow ``Link: <...>; rel="next"`` (GitHub);
- :func:`offset_pages`: ``startAt``/``maxResults``/``total``/``isLast`` (Jira Server/DC, Agile);
- :func:`token_pages`: ``nextPageToken``/``isLast`` (Jira Cloud ``/rest/api/3/search/jql``).

Only one page is held at a time, so memory stays flat however long the result is.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

import httpx

from jirabridge.errors import ApiError
from jirabridge.http.client import HttpClient, safe_url

__all__ = ["items", "link_pages", "offset_pages", "token_pages"]


def _page_items(body: Any, items_key: str | None, url: str) -> list[Any]:
    if items_key is None:
        if isinstance(body, list):
            return body
        raise ApiError(f"{url}: expected a JSON list page", status=200, url=url)
    if not isinstance(body, dict):
        raise ApiError(f"{url}: expected a JSON object page", status=200, url=url)
    found = body.get(items_key, [])
    if not isinstance(found, list):
        raise ApiError(f"{url}: {items_key!r} is not a list", status=200, url=url)
    return found


async def items(pages: AsyncIterator[list[Any]]) -> AsyncIterator[Any]:
    """Flatten an async iterator of pages into one of items."""
    async for page in pages:
        for item in page:
            yield item


async def link_pages(
    client: HttpClient,
    url: str,
    *,
    params: Mapping[str, Any] | None = None,
    items_key: str | None = None,
    max_pages: int | None = None,
) -> AsyncIterator[list[Any]]:
    """Pages of a GitHub-style listing: each response names the next page in its ``Link`` header.

    ``items_key`` picks the list out of an object body (GitHub search: ``"items"``); ``None``
    means the body is the list itself.
    """
    next_url: str | None = url
    next_params = params
    pages = 0
    origin = httpx.URL(client.base_url)
    while next_url and (max_pages is None or pages < max_pages):
        response = await client.request("GET", next_url, params=next_params)
        pages += 1
        if response.status_code == 204 or not response.content:
            # GitHub answers an empty listing (e.g. contributors of an empty repo) with 204.
            yield []
            return
        yield _page_items(response.json(), items_key, next_url)
        next_url = response.links.get("next", {}).get("url")
        next_params = None  # the next link carries every parameter already
        if next_url:
            target = httpx.URL(next_url)
            # Our credentials go wherever the link points: never follow it to another origin.
            if target.is_absolute_url and (target.scheme, target.host, target.port) != (
                origin.scheme,
                origin.host,
                origin.port,
            ):
                raise ApiError(
                    "refusing to follow a next-page link to another origin",
                    status=response.status_code,
                    url=safe_url(next_url),
                )


async def offset_pages(
    client: HttpClient,
    url: str,
    *,
    items_key: str,
    params: Mapping[str, Any] | None = None,
    page_size: int = 50,
    start_at: int = 0,
    method: str = "GET",
    max_pages: int | None = None,
) -> AsyncIterator[list[Any]]:
    """Pages by ``startAt``/``maxResults`` (Jira Server/DC search, Agile boards and sprints).

    Stops at ``isLast``, at ``total``, or at an empty page. Advances by the number of items
    actually returned: Jira may cap ``maxResults`` below what was asked.
    """
    position = start_at
    pages = 0
    while max_pages is None or pages < max_pages:
        query = {**(params or {}), "startAt": position, "maxResults": page_size}
        if method.upper() == "GET":
            response = await client.request("GET", url, params=query)
        else:
            response = await client.request(method, url, json=query, idempotent=True)
        pages += 1
        body = response.json()
        page = _page_items(body, items_key, url)
        if page:
            yield page
        position += len(page)
        total = body.get("total")
        if not page or body.get("isLast") is True or (isinstance(total, int) and position >= total):
            return


async def token_pages(
    client: HttpClient,
    url: str,
    *,
    items_key: str,
    params: Mapping[str, Any] | None = None,
    body: Mapping[str, Any] | None = None,
    method: str = "GET",
    max_pages: int | None = None,
) -> AsyncIterator[list[Any]]:
    """Pages by ``nextPageToken`` (Jira Cloud ``/rest/api/3/search/jql``).

    With ``method="GET"`` the token goes in the query string, otherwise in the JSON ``body``
    (the POST form of the search is read-only, so it is sent as idempotent). Stops when
    ``isLast`` is true or no ``nextPageToken`` comes back.
    """
    token: str | None = None
    pages = 0
    post = method.upper() != "GET"
    while max_pages is None or pages < max_pages:
        if post:
            payload = {**(body or {}), **({"nextPageToken": token} if token else {})}
            response = await client.request(
                method, url, params=params, json=payload, idempotent=True
            )
        else:
            query = {**(params or {}), **({"nextPageToken": token} if token else {})}
            response = await client.request("GET", url, params=query)
        pages += 1
        data = response.json()
        page = _page_items(data, items_key, url)
        if page:
            yield page
        token = data.get("nextPageToken")
        if data.get("isLast") is True or not token:
            return
