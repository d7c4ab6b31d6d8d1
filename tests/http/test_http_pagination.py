import json

import httpx
import pytest

from jirabridge.errors import ApiError
from jirabridge.http import HttpClient, items, link_pages, offset_pages, token_pages
from jirabridge.http.clock import FakeClock


def client_with(handler: object, clock: FakeClock) -> HttpClient:
    return HttpClient(
        "https://api.test",
        transport=httpx.MockTransport(handler),  # type: ignore[arg-type]
        clock=clock,
    )


async def test_link_header_pages_are_followed(clock: FakeClock) -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        page = int(request.url.params.get("page", "1"))
        headers = {}
        if page < 3:
            headers["Link"] = (
                f'<https://api.test/repos/o/r/issues?per_page=2&page={page + 1}>; rel="next", '
                '<https://api.test/repos/o/r/issues?per_page=2&page=3>; rel="last"'
            )
        return httpx.Response(200, json=[page * 10, page * 10 + 1], headers=headers)

    async with client_with(handler, clock) as client:
        got = [
            i async for i in items(link_pages(client, "/repos/o/r/issues", params={"per_page": 2}))
        ]
    assert got == [10, 11, 20, 21, 30, 31]
    assert seen[0] == "https://api.test/repos/o/r/issues?per_page=2"
    assert len(seen) == 3


async def test_offset_pages_advance_by_what_came_back(clock: FakeClock) -> None:
    total = 7
    asked: list[tuple[int, int]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        start = int(request.url.params["startAt"])
        size = int(request.url.params["maxResults"])
        asked.append((start, size))
        size = min(size, 3)  # the server caps maxResults below what we asked
        values = list(range(start, min(start + size, total)))
        return httpx.Response(
            200, json={"startAt": start, "maxResults": size, "total": total, "issues": values}
        )

    async with client_with(handler, clock) as client:
        pages = [p async for p in offset_pages(client, "/rest/api/2/search", items_key="issues")]
    assert pages == [[0, 1, 2], [3, 4, 5], [6]]
    assert [a[0] for a in asked] == [0, 3, 6]


async def test_offset_pages_stop_at_is_last_without_total(clock: FakeClock) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        start = int(request.url.params["startAt"])
        return httpx.Response(200, json={"values": [start, start + 1], "isLast": start >= 2})

    async with client_with(handler, clock) as client:
        got = [
            i
            async for i in items(
                offset_pages(client, "/rest/agile/1.0/board", items_key="values", page_size=2)
            )
        ]
    assert got == [0, 1, 2, 3]


async def test_token_pages_get_and_post(clock: FakeClock) -> None:
    pages = {None: ("t1", False), "t1": ("t2", False), "t2": (None, True)}
    methods: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        methods.append(request.method)
        if request.method == "GET":
            token = request.url.params.get("nextPageToken")
        else:
            token = json.loads(request.content).get("nextPageToken")
            assert json.loads(request.content)["jql"] == "project = P"
        next_token, last = pages[token]
        body: dict[str, object] = {"issues": [{"id": token or "first"}], "isLast": last}
        if next_token:
            body["nextPageToken"] = next_token
        return httpx.Response(200, json=body)

    async with client_with(handler, clock) as client:
        got = [
            i["id"]
            async for i in items(
                token_pages(
                    client,
                    "/rest/api/3/search/jql",
                    items_key="issues",
                    params={"jql": "project = P"},
                )
            )
        ]
        assert got == ["first", "t1", "t2"]
        posted = [
            i["id"]
            async for i in items(
                token_pages(
                    client,
                    "/rest/api/3/search/jql",
                    items_key="issues",
                    method="POST",
                    body={"jql": "project = P"},
                )
            )
        ]
    assert posted == ["first", "t1", "t2"]
    assert methods == ["GET"] * 3 + ["POST"] * 3


async def test_post_search_pages_are_retried_as_reads(clock: FakeClock) -> None:
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        if calls == 1:
            return httpx.Response(503)
        return httpx.Response(200, json={"issues": [1], "isLast": True})

    async with client_with(handler, clock) as client:
        got = [p async for p in token_pages(client, "/s", items_key="issues", method="POST")]
    assert got == [[1]]
    assert calls == 2


async def test_malformed_page_is_a_clear_error(clock: FakeClock) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"issues": "nope"})

    async with client_with(handler, clock) as client:
        with pytest.raises(ApiError, match="not a list"):
            [p async for p in offset_pages(client, "/s", items_key="issues")]


async def test_next_link_to_another_origin_is_refused(clock: FakeClock) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200, json=[1], headers={"Link": '<https://evil.test/steal?page=2>; rel="next"'}
        )

    async with client_with(handler, clock) as client:
        pages = link_pages(client, "/repos/o/r/issues")
        assert await anext(pages) == [1]
        with pytest.raises(ApiError, match="another origin"):
            await anext(pages)
