"""Search: Cloud /search/jql pages, ids-then-bulkfetch, Data Center startAt, counting."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from jirabridge.errors import ValidationError
from jirabridge.jira import JiraClient

from support.jira_fakes import FakeJira, spec_example


def _issue(n: int) -> dict[str, Any]:
    return {"id": str(10000 + n), "key": f"ED-{n}", "fields": {"summary": f"issue {n}"}}


class CloudIndex:
    """A /search/jql + /issue/bulkfetch over ``total`` issues, with opaque page tokens."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.bulkfetch_sizes: list[int] = []

    def search(self, request: httpx.Request) -> httpx.Response:
        import json

        body = json.loads(request.content)
        start = int(body.get("nextPageToken", "t0")[1:])
        size = body["maxResults"]
        ids_only = body.get("fields") == ["id"]
        page = [
            {"id": str(10000 + n)} if ids_only else _issue(n)
            for n in range(start, min(start + size, self.total))
        ]
        end = start + len(page)
        answer: dict[str, Any] = {"issues": page, "isLast": end >= self.total}
        if end < self.total:
            answer["nextPageToken"] = f"t{end}"
        return httpx.Response(200, json=answer)

    def bulkfetch(self, request: httpx.Request) -> httpx.Response:
        import json

        ids = json.loads(request.content)["issueIdsOrKeys"]
        self.bulkfetch_sizes.append(len(ids))
        # Answer in reverse to prove the client restores search order.
        issues = [_issue(int(i) - 10000) for i in reversed(ids)]
        return httpx.Response(200, json={"issues": issues, "issueErrors": []})


async def test_small_result_is_one_request(cloud: JiraClient, fake: FakeJira) -> None:
    index = CloudIndex(30)
    fake.on("POST", "/rest/api/3/search/jql", index.search)
    keys = [i.key async for i in cloud.search("project = ED", fields=["summary"])]
    assert keys == [f"ED-{n}" for n in range(30)]
    assert len(fake.sent) == 1
    assert fake.last.body == {"jql": "project = ED", "maxResults": 100, "fields": ["summary"]}


async def test_large_result_switches_to_ids_then_bulkfetch(
    cloud: JiraClient, fake: FakeJira
) -> None:
    index = CloudIndex(12_345)
    fake.validate = False  # 12k validations are slow; request shapes are validated elsewhere
    fake.on("POST", "/rest/api/3/search/jql", index.search)
    fake.on("POST", "/rest/api/3/issue/bulkfetch", index.bulkfetch)
    count = 0
    async for issue in cloud.search("project = ED"):
        assert issue.key == f"ED-{count}"
        count += 1
    assert count == 12_345
    searches = [s for s in fake.sent if s.path.endswith("/search/jql")]
    # One page of full issues, then ids 5000 a page: ceil(12345 / 5000) = 3.
    assert len(searches) == 1 + 3
    assert all(s.body["fields"] == ["id"] and s.body["maxResults"] == 5000 for s in searches[1:])
    assert sum(index.bulkfetch_sizes) == 12_345 - 100
    assert max(index.bulkfetch_sizes) == 100
    assert len(index.bulkfetch_sizes) == 123  # the minimum for 12,245 ids at 100 a call


async def test_ids_strategy_request_shapes_match_the_spec(
    cloud: JiraClient, fake: FakeJira
) -> None:
    index = CloudIndex(150)
    fake.on("POST", "/rest/api/3/search/jql", index.search)
    fake.on("POST", "/rest/api/3/issue/bulkfetch", index.bulkfetch)
    got = [i.key async for i in cloud.search("project = ED", strategy="ids", fields=["summary"])]
    assert got == [f"ED-{n}" for n in range(150)]
    assert fake.sent[0].body == {"jql": "project = ED", "fields": ["id"], "maxResults": 5000}
    assert fake.sent[1].body == {
        "issueIdsOrKeys": [str(10000 + n) for n in range(100)],
        "fields": ["summary"],
    }
    assert index.bulkfetch_sizes == [100, 50]


async def test_pages_strategy_follows_tokens(cloud: JiraClient, fake: FakeJira) -> None:
    index = CloudIndex(250)
    fake.on("POST", "/rest/api/3/search/jql", index.search)
    got = [i.key async for i in cloud.search("project = ED", strategy="pages", expand=["names"])]
    assert len(got) == 250
    assert [s.body.get("nextPageToken") for s in fake.sent] == [None, "t100", "t200"]
    assert fake.sent[0].body["expand"] == "names"


async def test_search_parses_the_spec_example(cloud: JiraClient, fake: FakeJira) -> None:
    example = spec_example("/rest/api/3/search/jql", "post", "200")
    fake.on("POST", "/rest/api/3/search/jql", example)
    issues = [i async for i in cloud.search("project = EX")]
    assert [i.key for i in issues] == [raw["key"] for raw in example["issues"]]


async def test_search_streams_lazily(cloud: JiraClient, fake: FakeJira) -> None:
    index = CloudIndex(10_000)
    fake.on("POST", "/rest/api/3/search/jql", index.search)
    stream = cloud.search("project = ED", strategy="pages")
    first = await anext(stream)
    assert first.key == "ED-0"
    assert len(fake.sent) == 1  # nothing fetched beyond the page being read
    await stream.aclose()


async def test_dc_search_uses_start_at(dc: JiraClient, fake: FakeJira) -> None:
    import json

    def page(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        start, size = body["startAt"], body["maxResults"]
        issues = [_issue(n) for n in range(start, min(start + size, 230))]
        return httpx.Response(200, json={"startAt": start, "total": 230, "issues": issues})

    fake.on("POST", "/rest/api/2/search", page)
    keys = [i.key async for i in dc.search("project = ED", fields=["summary"])]
    assert keys == [f"ED-{n}" for n in range(230)]
    assert [s.body["startAt"] for s in fake.sent] == [0, 100, 200]
    assert fake.sent[0].body == {
        "jql": "project = ED",
        "fields": ["summary"],
        "startAt": 0,
        "maxResults": 100,
    }


async def test_counts(cloud: JiraClient, dc: JiraClient, fake: FakeJira) -> None:
    fake.on(
        "POST",
        "/rest/api/3/search/approximate-count",
        spec_example("/rest/api/3/search/approximate-count", "post", "200"),
    )
    fake.on("POST", "/rest/api/2/search", {"startAt": 0, "total": 42, "issues": []})
    assert await cloud.approximate_count("project = ED") == 153
    assert fake.last.body == {"jql": "project = ED"}
    assert await dc.approximate_count("project = ED") == 42
    assert fake.last.body["maxResults"] == 0


async def test_fetch_issues_bulkfetches_in_hundreds(cloud: JiraClient, fake: FakeJira) -> None:
    index = CloudIndex(0)
    fake.on("POST", "/rest/api/3/issue/bulkfetch", index.bulkfetch)
    keys = [str(10000 + n) for n in range(250)]
    got = [i async for i in cloud.fetch_issues(keys)]
    assert len(got) == 250
    assert index.bulkfetch_sizes == [100, 100, 50]


async def test_refuses_bad_search_input(cloud: JiraClient) -> None:
    with pytest.raises(ValidationError, match="unbounded"):
        await anext(cloud.search("  "))
    with pytest.raises(ValidationError):
        await anext(cloud.search("project = ED", page_size=0))
    with pytest.raises(ValidationError):
        await anext(cloud.search("project = ED", reconcile_issues=list(range(51))))
