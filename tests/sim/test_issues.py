"""Issue operations on the Cloud and Data Center flavours."""

from __future__ import annotations

from typing import Any

import httpx

from jirabridge.sim.app import SimRuntime
from sim.conftest import ADF


async def test_create_get_edit_delete_with_changelog(client: httpx.AsyncClient, new_issue: Any) -> None:
    key = await new_issue("First", description=ADF, labels=["a"])
    r = await client.get(f"/rest/api/3/issue/{key}")
    assert r.status_code == 200
    fields = r.json()["fields"]
    assert fields["summary"] == "First"
    assert fields["description"] == ADF
    assert fields["status"]["name"] == "To Do"
    assert fields["created"].endswith("+0000")

    r = await client.put(f"/rest/api/3/issue/{key}", json={"fields": {"summary": "Renamed"}, "update": {"labels": [{"add": "b"}, {"remove": "a"}]}})
    assert r.status_code == 204, r.text
    r = await client.get(f"/rest/api/3/issue/{key}", params={"expand": "changelog"})
    body = r.json()
    assert body["fields"]["summary"] == "Renamed"
    assert body["fields"]["labels"] == ["b"]
    items = body["changelog"]["histories"][-1]["items"]
    assert {i["field"] for i in items} == {"summary", "labels"}
    summary = next(i for i in items if i["field"] == "summary")
    assert (summary["fromString"], summary["toString"]) == ("First", "Renamed")

    assert (await client.delete(f"/rest/api/3/issue/{key}")).status_code == 204
    r = await client.get(f"/rest/api/3/issue/{key}")
    assert r.status_code == 404
    assert r.json() == {"errorMessages": ["Issue does not exist or you do not have permission to see it."], "errors": {}}


async def test_v2_description_is_a_string_v3_refuses_a_string(client: httpx.AsyncClient, new_issue: Any) -> None:
    key = await new_issue(description=ADF)
    r = await client.get(f"/rest/api/2/issue/{key}")
    assert r.json()["fields"]["description"] == "hello"
    r = await client.put(f"/rest/api/3/issue/{key}", json={"fields": {"description": "plain"}})
    assert r.status_code == 400
    assert "description" in r.json()["errors"]
    r = await client.put(f"/rest/api/2/issue/{key}", json={"fields": {"description": "line one"}})
    assert r.status_code == 204
    r = await client.get(f"/rest/api/3/issue/{key}")
    assert r.json()["fields"]["description"]["content"][0]["content"][0]["text"] == "line one"


async def test_create_reports_field_errors(client: httpx.AsyncClient) -> None:
    r = await client.post("/rest/api/3/issue", json={"fields": {"project": {"key": "NOPE"}, "issuetype": {"name": "Task"}}})
    assert r.status_code == 400
    errors = r.json()["errors"]
    assert set(errors) == {"project", "summary"}


async def test_refused_edit_changes_nothing(client: httpx.AsyncClient, new_issue: Any) -> None:
    key = await new_issue("Keep me")
    r = await client.put(f"/rest/api/3/issue/{key}", json={"fields": {"summary": "New", "customfield_99999": 1}})
    assert r.status_code == 400
    assert (await client.get(f"/rest/api/3/issue/{key}")).json()["fields"]["summary"] == "Keep me"


async def test_assign_and_transition(client: httpx.AsyncClient, runtime: SimRuntime, new_issue: Any) -> None:
    key = await new_issue()
    other = next(u for u in runtime.site.users.values() if not u.admin)
    r = await client.put(f"/rest/api/3/issue/{key}/assignee", json={"accountId": other.account_id})
    assert r.status_code == 204
    r = await client.get(f"/rest/api/3/issue/{key}/transitions")
    ids = {t["id"] for t in r.json()["transitions"]}
    assert ids == {"21", "31"}
    r = await client.post(f"/rest/api/3/issue/{key}/transitions", json={"transition": {"id": "31"}})
    assert r.status_code == 204
    fields = (await client.get(f"/rest/api/3/issue/{key}")).json()["fields"]
    assert fields["assignee"]["accountId"] == other.account_id
    assert fields["status"]["statusCategory"]["key"] == "done"
    assert fields["resolution"]["name"] == "Done"
    r = await client.post(f"/rest/api/3/issue/{key}/transitions", json={"transition": {"id": "31"}})
    assert r.status_code == 400


async def test_unknown_assignee_is_refused(client: httpx.AsyncClient, new_issue: Any) -> None:
    key = await new_issue()
    r = await client.put(f"/rest/api/3/issue/{key}/assignee", json={"accountId": "nobody"})
    assert r.status_code == 400


async def test_parent_on_cloud(client: httpx.AsyncClient, new_issue: Any) -> None:
    epic = await new_issue("Epic", "Epic")
    story = await new_issue("Story", "Story", parent={"key": epic})
    fields = (await client.get(f"/rest/api/3/issue/{story}")).json()["fields"]
    assert fields["parent"]["key"] == epic
    assert fields["customfield_10014"] == epic
    r = await client.post("/rest/api/3/search/jql", json={"jql": f"parent = {epic}", "fields": ["summary"]})
    assert [i["key"] for i in r.json()["issues"]] == [story]
    # A story cannot be the parent of a story.
    r = await client.post("/rest/api/3/issue", json={"fields": {"project": {"key": "DEMO"}, "issuetype": {"name": "Story"}, "summary": "x", "parent": {"key": story}}})
    assert r.status_code == 400


async def test_epic_link_on_datacenter(dc_client: httpx.AsyncClient) -> None:
    base = {"project": {"key": "DEMO"}}
    r = await dc_client.post("/rest/api/2/issue", json={"fields": {**base, "issuetype": {"name": "Epic"}, "summary": "E"}})
    assert r.status_code == 400
    assert "customfield_10011" in r.json()["errors"]
    r = await dc_client.post("/rest/api/2/issue", json={"fields": {**base, "issuetype": {"name": "Epic"}, "summary": "E", "customfield_10011": "E"}})
    epic = r.json()["key"]
    r = await dc_client.post("/rest/api/2/issue", json={"fields": {**base, "issuetype": {"name": "Story"}, "summary": "S", "customfield_10014": epic}})
    assert r.status_code == 201, r.text
    story = r.json()["key"]
    fields = (await dc_client.get(f"/rest/api/2/issue/{story}")).json()["fields"]
    assert fields["customfield_10014"] == epic
    assert fields["parent"] is None
    r = await dc_client.get("/rest/api/2/search", params={"jql": f'"Epic Link" = {epic}'})
    assert [i["key"] for i in r.json()["issues"]] == [story]


async def test_auth_cloud_basic_only(app: Any, runtime: SimRuntime) -> None:
    from sim.conftest import client_for

    async with client_for(app, auth=None) as anon:
        r = await anon.get("/rest/api/3/myself")
        assert r.status_code == 401
        assert r.json()["errorMessages"]
        assert (await anon.get("/rest/api/3/serverInfo")).status_code == 200
    async with client_for(app, auth=(runtime.admin_email, "wrong")) as bad:
        assert (await bad.get("/rest/api/3/myself")).status_code == 401
    pat = runtime.admin.pats[0]
    async with client_for(app, auth=None) as bearer:
        r = await bearer.get("/rest/api/3/myself", headers={"Authorization": f"Bearer {pat}"})
        assert r.status_code == 401


async def test_auth_datacenter_password_and_pat(dc_app: Any) -> None:
    from sim.conftest import client_for

    runtime = dc_app.state.sim
    assert runtime.admin_email == "admin"
    async with client_for(dc_app, auth=None) as c:
        r = await c.get("/rest/api/2/myself", headers={"Authorization": f"Bearer {runtime.admin.pats[0]}"})
        assert r.status_code == 200
        assert r.json()["name"] == "admin"
        assert (await c.get("/rest/api/2/myself", headers={"Authorization": "Bearer nope"})).status_code == 401
        assert (await c.get("/rest/api/3/myself")).status_code == 404


async def test_upstream_principal_is_trusted(app: Any, runtime: SimRuntime) -> None:
    """simedge's OAuth gateway puts the principal in the ASGI scope; no header needed."""
    from starlette.types import Receive, Scope, Send

    user = next(u for u in runtime.site.users.values() if not u.admin)
    inner = app

    async def gateway(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            scope.setdefault("state", {})["sim_principal"] = {"accountId": user.account_id, "auth_kind": "oauth", "cloud_id": runtime.cloud_id, "scopes": ["read:jira-work"]}
        await inner(scope, receive, send)

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=gateway), base_url="http://sim.test") as c:
        r = await c.get("/rest/api/3/myself")
    assert r.status_code == 200
    assert r.json()["accountId"] == user.account_id


async def test_serverinfo_deployment_type(client: httpx.AsyncClient, dc_client: httpx.AsyncClient) -> None:
    assert (await client.get("/rest/api/3/serverInfo")).json()["deploymentType"] == "Cloud"
    assert (await dc_client.get("/rest/api/2/serverInfo")).json()["deploymentType"] == "Server"


async def test_comments_crud(client: httpx.AsyncClient, new_issue: Any) -> None:
    key = await new_issue()
    r = await client.post(f"/rest/api/3/issue/{key}/comment", json={"body": ADF})
    assert r.status_code == 201
    cid = r.json()["id"]
    r = await client.put(f"/rest/api/2/issue/{key}/comment/{cid}", json={"body": "edited"})
    assert r.status_code == 200
    assert r.json()["body"] == "edited"
    r = await client.get(f"/rest/api/3/issue/{key}/comment")
    assert r.json()["total"] == 1
    assert (await client.delete(f"/rest/api/3/issue/{key}/comment/{cid}")).status_code == 204
    assert (await client.get(f"/rest/api/3/issue/{key}/comment/{cid}")).status_code == 404


async def test_links_remote_links_and_properties(client: httpx.AsyncClient, new_issue: Any) -> None:
    a, b = await new_issue("A"), await new_issue("B")
    r = await client.post("/rest/api/3/issueLink", json={"type": {"name": "Blocks"}, "inwardIssue": {"key": a}, "outwardIssue": {"key": b}})
    assert r.status_code == 201
    links = (await client.get(f"/rest/api/3/issue/{a}")).json()["fields"]["issuelinks"]
    assert len(links) == 1
    assert links[0]["outwardIssue"]["key"] == b
    assert "inwardIssue" not in links[0]
    link_id = links[0]["id"]
    assert (await client.get(f"/rest/api/3/issueLink/{link_id}")).json()["inwardIssue"]["key"] == a
    assert (await client.delete(f"/rest/api/3/issueLink/{link_id}")).status_code == 204

    remote = {"globalId": "gh-pr-1", "object": {"url": "https://github.com/o/r/pull/1", "title": "PR 1"}}
    r = await client.post(f"/rest/api/3/issue/{a}/remotelink", json=remote)
    assert r.status_code == 201
    r = await client.post(f"/rest/api/3/issue/{a}/remotelink", json=remote)
    assert r.status_code == 200  # same globalId updates in place
    assert len((await client.get(f"/rest/api/3/issue/{a}/remotelink")).json()) == 1

    r = await client.put(f"/rest/api/3/issue/{a}/properties/ext", json={"id": 7})
    assert r.status_code == 201
    assert (await client.get(f"/rest/api/3/issue/{a}/properties/ext")).json() == {"key": "ext", "value": {"id": 7}}
    assert [k["key"] for k in (await client.get(f"/rest/api/3/issue/{a}/properties")).json()["keys"]] == ["ext"]
    assert (await client.delete(f"/rest/api/3/issue/{a}/properties/ext")).status_code == 204
    assert (await client.get(f"/rest/api/3/issue/{a}/properties/ext")).status_code == 404


async def test_createmeta_and_fields(client: httpx.AsyncClient) -> None:
    types = (await client.get("/rest/api/3/issue/createmeta/DEMO/issuetypes")).json()["issueTypes"]
    assert [t["name"] for t in types] == ["Epic", "Story", "Task", "Bug", "Sub-task"]
    story = next(t for t in types if t["name"] == "Story")
    meta = (await client.get(f"/rest/api/3/issue/createmeta/DEMO/issuetypes/{story['id']}")).json()["fields"]
    by_id = {f["fieldId"]: f for f in meta}
    assert by_id["summary"]["required"] is True
    assert "customfield_10016" in by_id
    fields = (await client.get("/rest/api/3/field")).json()
    assert any(f["id"] == "customfield_10020" and f["custom"] for f in fields)


async def test_user_search_and_assignable(client: httpx.AsyncClient) -> None:
    r = await client.get("/rest/api/3/user/search", params={"query": "grace"})
    assert [u["displayName"].split()[0] for u in r.json()] == ["Grace"]
    assert (await client.get("/rest/api/3/user/assignable/search")).status_code == 400
    assert len((await client.get("/rest/api/3/user/assignable/search", params={"project": "DEMO"})).json()) == 6


async def test_bad_json_body(client: httpx.AsyncClient) -> None:
    r = await client.post("/rest/api/3/issue", content=b"{nope", headers={"content-type": "application/json"})
    assert r.status_code == 400
    assert r.json()["errorMessages"]
