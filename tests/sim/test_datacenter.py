"""The Data Center flavour end to end: v2 only, names and keys, PATs, agile, worklogs."""

from __future__ import annotations

import httpx


async def test_datacenter_round_trip(dc_client: httpx.AsyncClient) -> None:
    me = (await dc_client.get("/rest/api/2/myself")).json()
    assert set(me) >= {"name", "key", "displayName"}
    assert "accountId" not in me
    r = await dc_client.post(
        "/rest/api/2/issue",
        json={
            "fields": {
                "project": {"key": "DEMO"},
                "issuetype": {"name": "Task"},
                "summary": "DC task",
                "description": "plain text",
                "assignee": {"name": "grace"},
            }
        },
    )
    assert r.status_code == 201, r.text
    key = r.json()["key"]
    issue = (await dc_client.get(f"/rest/api/2/issue/{key}")).json()
    assert issue["fields"]["description"] == "plain text"
    assert issue["fields"]["assignee"]["name"] == "grace"
    r = await dc_client.post(
        f"/rest/api/2/issue/{key}/worklog",
        json={"started": "2026-11-19T09:00:00.000+0000", "timeSpent": "1h 30m", "comment": "done"},
    )
    assert r.status_code == 201
    assert r.json()["timeSpentSeconds"] == 5400
    assert r.json()["author"]["name"] == "admin"
    r = await dc_client.get(
        "/rest/api/2/search", params={"jql": "assignee = grace AND project = DEMO"}
    )
    assert key in [i["key"] for i in r.json()["issues"]]
    r = await dc_client.put(f"/rest/api/2/issue/{key}/assignee", json={"accountId": "x"})
    assert r.status_code == 400  # Data Center names users by name or key
    sprints = (await dc_client.get("/rest/agile/1.0/board/1/sprint")).json()["values"]
    assert sprints[-1]["state"] == "active"
    issues = (await dc_client.get(f"/rest/agile/1.0/sprint/{sprints[-1]['id']}/issue")).json()
    assert isinstance(issues["issues"][0]["fields"]["description"], str)
