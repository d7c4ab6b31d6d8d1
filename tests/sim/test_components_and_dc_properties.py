"""Components on create/edit/search/createmeta, and Data Center search returning properties."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

PROP = "jirabridge.external-id"


async def test_components_listed_and_set_on_create_by_name_or_id(
    client: httpx.AsyncClient, new_issue: Callable[..., Any]
) -> None:
    listed = (await client.get("/rest/api/3/project/DEMO/components")).json()
    by_name = {c["name"]: c["id"] for c in listed}
    assert set(by_name) == {"web", "api", "mobile"}
    key = await new_issue(components=[{"name": "web"}, {"id": by_name["api"]}])
    fields = (await client.get(f"/rest/api/3/issue/{key}?fields=components")).json()["fields"]
    assert [c["name"] for c in fields["components"]] == ["web", "api"]
    # JQL finds it by component name.
    r = await client.post(
        "/rest/api/3/search/jql", json={"jql": "project = DEMO AND component = web"}
    )
    assert [i["id"] for i in r.json()["issues"]] != []


async def test_unknown_component_is_refused_with_the_field_named(
    client: httpx.AsyncClient,
) -> None:
    body = {
        "fields": {
            "project": {"key": "DEMO"},
            "issuetype": {"name": "Task"},
            "summary": "x",
            "components": [{"name": "nope"}],
        }
    }
    r = await client.post("/rest/api/3/issue", json=body)
    assert r.status_code == 400
    assert r.json()["errors"] == {"components": "Component name 'nope' is not valid"}
    body["fields"]["components"] = [{"id": "1"}]
    r = await client.post("/rest/api/3/issue", json=body)
    assert r.status_code == 400
    assert "components" in r.json()["errors"]


async def test_components_edit_is_in_the_changelog(
    client: httpx.AsyncClient, new_issue: Callable[..., Any]
) -> None:
    key = await new_issue()
    r = await client.put(
        f"/rest/api/3/issue/{key}", json={"fields": {"components": [{"name": "mobile"}]}}
    )
    assert r.status_code == 204, r.text
    log = (await client.get(f"/rest/api/3/issue/{key}/changelog")).json()["values"]
    assert any(
        i["field"] == "Component" and i["toString"] == "mobile" for g in log for i in g["items"]
    )


async def test_createmeta_offers_components_with_allowed_values(
    client: httpx.AsyncClient,
) -> None:
    types = (await client.get("/rest/api/3/issue/createmeta/DEMO/issuetypes")).json()
    story = next(t for t in types["issueTypes"] if t["name"] == "Story")
    fields = (
        await client.get(f"/rest/api/3/issue/createmeta/DEMO/issuetypes/{story['id']}")
    ).json()["fields"]
    components = next(f for f in fields if f["fieldId"] == "components")
    assert components["required"] is False
    assert [v["name"] for v in components["allowedValues"]] == ["web", "api", "mobile"]


async def test_bulk_create_with_components(dc_client: httpx.AsyncClient) -> None:
    body = {
        "issueUpdates": [
            {
                "fields": {
                    "project": {"key": "DEMO"},
                    "issuetype": {"name": "Task"},
                    "summary": f"t{n}",
                    "components": [{"name": "api"}],
                }
            }
            for n in range(2)
        ]
    }
    r = await dc_client.post("/rest/api/2/issue/bulk", json=body)
    assert r.status_code == 201, r.text
    key = r.json()["issues"][1]["key"]
    issue = (await dc_client.get(f"/rest/api/2/issue/{key}")).json()
    assert [c["name"] for c in issue["fields"]["components"]] == ["api"]


async def test_datacenter_search_returns_requested_properties(
    dc_client: httpx.AsyncClient,
) -> None:
    body = {
        "fields": {"project": {"key": "DEMO"}, "issuetype": {"name": "Task"}, "summary": "p"},
        "properties": [{"key": PROP, "value": {"externalId": "x-1"}}],
    }
    key = (await dc_client.post("/rest/api/2/issue", json=body)).json()["key"]
    jql = f"key = {key}"
    posted = await dc_client.post(
        "/rest/api/2/search", json={"jql": jql, "fields": ["summary"], "properties": [PROP]}
    )
    assert posted.json()["issues"][0]["properties"] == {PROP: {"externalId": "x-1"}}
    got = await dc_client.get(
        "/rest/api/2/search", params={"jql": jql, "fields": "summary", "properties": PROP}
    )
    assert got.json()["issues"][0]["properties"] == {PROP: {"externalId": "x-1"}}
    # Not asked for, not returned.
    plain = await dc_client.get("/rest/api/2/search", params={"jql": jql, "fields": "summary"})
    assert "properties" not in plain.json()["issues"][0]
    too_many = await dc_client.post(
        "/rest/api/2/search", json={"jql": jql, "properties": [f"p{n}" for n in range(6)]}
    )
    assert too_many.status_code == 400
