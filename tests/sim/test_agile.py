"""Agile 1.0: boards, sprints with seeded history, sprint lifecycle, backlog, epics."""

from __future__ import annotations

from typing import Any

import httpx

from jirabridge.sim.app import SimRuntime


async def test_board_and_seeded_sprints(client: httpx.AsyncClient) -> None:
    boards = (await client.get("/rest/agile/1.0/board")).json()["values"]
    assert [b["location"]["projectKey"] for b in boards] == ["DEMO", "PLAT"]
    sprints = (await client.get("/rest/agile/1.0/board/1/sprint")).json()["values"]
    assert [s["state"] for s in sprints] == ["closed", "closed", "closed", "active"]
    assert all(
        s["completeDate"] < s["endDate"] or s["completeDate"] == s["endDate"] for s in sprints[:3]
    )
    active = (
        await client.get("/rest/agile/1.0/board/1/sprint", params={"state": "active"})
    ).json()["values"]
    assert len(active) == 1


async def test_closed_sprint_history_is_in_the_changelog(
    client: httpx.AsyncClient, runtime: SimRuntime
) -> None:
    first = next(s for s in runtime.site.sprints.values() if s.board_id == 1)
    issues = (
        await client.get(f"/rest/agile/1.0/sprint/{first.id}/issue", params={"maxResults": 50})
    ).json()["issues"]
    assert issues
    assert first.start_ms is not None
    changes: list[tuple[str, str]] = []
    for issue in issues:
        full = (
            await client.get(f"/rest/api/3/issue/{issue['key']}", params={"expand": "changelog"})
        ).json()
        for history in full["changelog"]["histories"]:
            for item in history["items"]:
                changes.append((item["field"], history["created"]))
    fields = {f for f, _ in changes}
    assert {"Sprint", "status", "Story point estimate"} <= fields
    # History lies in the past, before the frozen "now".
    assert all(created < "2026-11-20T12:00:00.000+0000" for _, created in changes)
    # Someone was added mid-sprint: a Sprint change after the sprint started.
    from jirabridge.sim.formats import jira_datetime

    started = jira_datetime(first.start_ms)
    assert any(f == "Sprint" and c > started for f, c in changes)


async def test_sprint_lifecycle_and_moves(
    client: httpx.AsyncClient, new_issue: Any, runtime: SimRuntime
) -> None:
    r = await client.post(
        "/rest/agile/1.0/sprint",
        json={
            "name": "Next",
            "originBoardId": 1,
            "startDate": "2026-11-21T09:00:00.000+0000",
            "endDate": "2026-12-05T09:00:00.000+0000",
        },
    )
    assert r.status_code == 201, r.text
    sprint = r.json()
    assert sprint["state"] == "future"
    key = await new_issue("Sprint me")
    r = await client.post(f"/rest/agile/1.0/sprint/{sprint['id']}/issue", json={"issues": [key]})
    assert r.status_code == 204
    issues = (await client.get(f"/rest/agile/1.0/sprint/{sprint['id']}/issue")).json()["issues"]
    assert [i["key"] for i in issues] == [key]
    r = await client.post(f"/rest/agile/1.0/sprint/{sprint['id']}", json={"state": "active"})
    assert r.status_code == 400  # the board already has an active sprint
    active = next(
        s for s in runtime.site.sprints.values() if s.board_id == 1 and s.state == "active"
    )
    assert (
        await client.post(f"/rest/agile/1.0/sprint/{active.id}", json={"state": "closed"})
    ).status_code == 200
    r = await client.post(f"/rest/agile/1.0/sprint/{sprint['id']}", json={"state": "active"})
    assert r.status_code == 200
    assert r.json()["state"] == "active"
    assert (
        await client.post("/rest/agile/1.0/backlog/issue", json={"issues": [key]})
    ).status_code == 204
    backlog = (
        await client.get("/rest/agile/1.0/board/1/backlog", params={"maxResults": 50})
    ).json()
    assert key in [i["key"] for i in backlog["issues"]]
    names = [e.name for e in runtime.site.event_log]
    assert {"sprint_created", "sprint_started", "sprint_closed", "sprint_updated"} <= set(names)


async def test_epics(client: httpx.AsyncClient, new_issue: Any) -> None:
    epics = (await client.get("/rest/agile/1.0/board/1/epic")).json()["values"]
    assert [e["key"] for e in epics] == ["DEMO-1", "DEMO-2"]
    children = (
        await client.get("/rest/agile/1.0/epic/DEMO-1/issue", params={"maxResults": 50})
    ).json()
    assert children["total"] == 14
    key = await new_issue("Orphan", "Story")
    none = (await client.get("/rest/agile/1.0/epic/none/issue")).json()
    assert key in [i["key"] for i in none["issues"]]
    assert (
        await client.post("/rest/agile/1.0/epic/DEMO-2/issue", json={"issues": [key]})
    ).status_code == 204
    assert (await client.get(f"/rest/api/3/issue/{key}")).json()["fields"]["parent"][
        "key"
    ] == "DEMO-2"
    assert (await client.get("/rest/agile/1.0/epic/DEMO-3")).status_code == 404


async def test_sprint_jql_and_field(client: httpx.AsyncClient, runtime: SimRuntime) -> None:
    active = next(
        s for s in runtime.site.sprints.values() if s.board_id == 1 and s.state == "active"
    )
    r = await client.post(
        "/rest/api/3/search/jql",
        json={"jql": f"sprint = {active.id}", "fields": ["customfield_10020"], "maxResults": 100},
    )
    issues = r.json()["issues"]
    assert issues
    for issue in issues:
        assert active.id in [s["id"] for s in issue["fields"]["customfield_10020"]]
