"""Search: /search/jql paging, the 410 of the old search, counts, bulkfetch, DC search, lag."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from jirabridge.sim.app import SimRuntime
from sim.conftest import client_for, make_app


async def _all_ids(client: httpx.AsyncClient, body: dict[str, Any]) -> tuple[list[str], int]:
    ids: list[str] = []
    pages = 0
    token = None
    while True:
        r = await client.post("/rest/api/3/search/jql", json={**body, **({"nextPageToken": token} if token else {})})
        assert r.status_code == 200, r.text
        page = r.json()
        assert "total" not in page
        pages += 1
        ids += [i["id"] for i in page["issues"]]
        if page["isLast"]:
            assert "nextPageToken" not in page
            return ids, pages
        token = page["nextPageToken"]


async def test_ids_only_pages_reach_5000_and_fields_pages_cap_at_100() -> None:
    from jirabridge.sim.seed import SeedSpec

    app = make_app(seed_spec=SeedSpec(projects=1, issues_per_project=150, users=3, closed_sprints=1))
    async with client_for(app) as client:
        ids, pages = await _all_ids(client, {"jql": "project = DEMO", "maxResults": 5000})
        assert len(ids) == 150
        assert pages == 1
        assert len(set(ids)) == 150
        ids2, pages2 = await _all_ids(client, {"jql": "project = DEMO", "maxResults": 5000, "fields": ["summary"]})
        assert pages2 == 2
        assert ids2 == ids
        r = await client.post("/rest/api/3/search/jql", json={"jql": "project = DEMO", "fields": ["summary"], "maxResults": 500})
        assert len(r.json()["issues"]) == 100
        assert set(r.json()["issues"][0]["fields"]) == {"summary"}


async def test_get_form_and_default_page(client: httpx.AsyncClient) -> None:
    r = await client.get("/rest/api/3/search/jql", params={"jql": "project = DEMO ORDER BY key ASC", "maxResults": 10})
    body = r.json()
    assert len(body["issues"]) == 10
    assert body["isLast"] is False
    assert set(body["issues"][0]) == {"id"}


async def test_unbounded_and_bad_jql_are_400(client: httpx.AsyncClient) -> None:
    r = await client.post("/rest/api/3/search/jql", json={"jql": "ORDER BY created"})
    assert r.status_code == 400
    assert "Unbounded" in r.json()["errorMessages"][0]
    r = await client.post("/rest/api/3/search/jql", json={"jql": "project = "})
    assert r.status_code == 400
    r = await client.post("/rest/api/3/search/jql", json={"jql": "nosuchfield = 1"})
    assert r.status_code == 400
    assert "does not exist" in r.json()["errorMessages"][0]
    r = await client.post("/rest/api/3/search/jql", json={"jql": "project = NOPE"})
    assert r.json()["errorMessages"] == ["The value 'NOPE' does not exist for the field 'project'."]
    r = await client.post("/rest/api/3/search/jql", json={"jql": "project = DEMO", "nextPageToken": "garbage"})
    assert r.status_code == 400


async def test_old_search_is_gone_on_cloud(client: httpx.AsyncClient) -> None:
    for path in ("/rest/api/3/search", "/rest/api/2/search"):
        r = await client.get(path, params={"jql": "project = DEMO"})
        assert r.status_code == 410
        assert "search/jql" in r.json()["errorMessages"][0]


async def test_datacenter_search_has_startat_and_total(dc_client: httpx.AsyncClient) -> None:
    r = await dc_client.get("/rest/api/2/search", params={"jql": "project = DEMO ORDER BY key", "startAt": 5, "maxResults": 10})
    body = r.json()
    assert body["total"] == 30
    assert body["startAt"] == 5
    assert [i["key"] for i in body["issues"]][:2] == ["DEMO-6", "DEMO-7"]
    assert (await dc_client.get("/rest/api/2/search/jql")).status_code == 404


async def test_approximate_count_and_bulkfetch(client: httpx.AsyncClient) -> None:
    r = await client.post("/rest/api/3/search/approximate-count", json={"jql": "project = DEMO AND issuetype = Epic"})
    assert r.json() == {"count": 2}
    r = await client.post("/rest/api/3/issue/bulkfetch", json={"issueIdsOrKeys": ["DEMO-1", "10001", "NOPE-9"], "fields": ["summary"]})
    body = r.json()
    assert [i["key"] for i in body["issues"]] == ["DEMO-1", "DEMO-2"]
    assert body["issueErrors"][0]["id"] == "NOPE-9"
    r = await client.post("/rest/api/3/issue/bulkfetch", json={"issueIdsOrKeys": [str(i) for i in range(101)]})
    assert r.status_code == 400


@pytest.mark.parametrize(
    ("jql", "expected"),
    [
        ("project = DEMO AND issuetype = Epic ORDER BY key", ["DEMO-1", "DEMO-2"]),
        ("issuekey in (DEMO-3, DEMO-5) ORDER BY key DESC", ["DEMO-5", "DEMO-3"]),
        ("key >= DEMO-29 ORDER BY key", ["DEMO-29", "DEMO-30"]),
        ("project = DEMO AND statusCategory = Done AND issuetype != Epic AND key < DEMO-4 ORDER BY key", ["DEMO-3"]),
    ],
)
async def test_jql_selects(client: httpx.AsyncClient, jql: str, expected: list[str]) -> None:
    r = await client.post("/rest/api/3/search/jql", json={"jql": jql, "fields": ["summary"]})
    assert r.status_code == 200, r.text
    assert [i["key"] for i in r.json()["issues"]] == expected


async def test_jql_people_labels_text_dates_sprints(client: httpx.AsyncClient, new_issue: Any, runtime: SimRuntime) -> None:
    key = await new_issue("Frobnicate the widget", labels=["zzz-unique"], assignee={"accountId": runtime.admin.account_id})

    async def keys(jql: str) -> list[str]:
        r = await client.post("/rest/api/3/search/jql", json={"jql": jql, "fields": ["summary"], "maxResults": 100})
        assert r.status_code == 200, r.text
        return [i["key"] for i in r.json()["issues"]]

    assert await keys("labels = zzz-unique") == [key]
    assert await keys("assignee = currentUser() AND labels in (zzz-unique)") == [key]
    assert await keys("summary ~ frobnic* AND project = DEMO") == [key]
    assert await keys('text ~ "the widget" AND project = DEMO') == [key]
    assert await keys("created >= -15m AND project = DEMO") == [key]
    assert await keys("created > 2026-11-20 AND project = DEMO") == [key]
    assert key not in await keys("created < -1d AND project = DEMO")
    assert key in await keys("sprint IS EMPTY AND project = DEMO")
    open_keys = await keys("sprint in openSprints() AND project = DEMO")
    assert open_keys
    assert key not in open_keys
    assert key not in await keys("assignee IS EMPTY AND project = DEMO")
    assert key in await keys("NOT (labels IS EMPTY) AND project = DEMO")


async def test_search_lags_writes_but_issue_get_does_not(app: Any, client: httpx.AsyncClient, runtime: SimRuntime, new_issue: Any) -> None:
    runtime.site.set_search_lag(2.0, 2.0)
    key = await new_issue("Lagging")
    assert (await client.get(f"/rest/api/3/issue/{key}")).status_code == 200
    r = await client.post("/rest/api/3/search/jql", json={"jql": "summary ~ Lagging AND project = DEMO"})
    assert r.json()["issues"] == []
    issue_id = runtime.site.get_issue(key).id
    r = await client.post("/rest/api/3/search/jql", json={"jql": "summary ~ Lagging AND project = DEMO", "reconcileIssues": [issue_id]})
    assert r.json()["issues"] == [{"id": str(issue_id)}]
    runtime.clock.advance(2.5)
    r = await client.post("/rest/api/3/search/jql", json={"jql": "summary ~ Lagging AND project = DEMO"})
    assert r.json()["issues"] == [{"id": str(issue_id)}]
