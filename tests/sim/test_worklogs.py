"""Worklogs: CRUD, Jira's checks, properties, windows, and the updated/deleted feeds."""

from __future__ import annotations

from typing import Any

import httpx

from jirabridge.sim.app import SimRuntime
from sim.simkit import ADF

STARTED = "2026-11-19T09:00:00.000+0000"


async def test_add_get_update_delete(client: httpx.AsyncClient, new_issue: Any) -> None:
    key = await new_issue(timetracking={"originalEstimate": "4h"})
    body = {
        "started": STARTED,
        "timeSpentSeconds": 3600,
        "comment": ADF,
        "properties": [{"key": "jb", "value": {"ext": "r-1"}}],
    }
    r = await client.post(
        f"/rest/api/3/issue/{key}/worklog",
        json=body,
        params={"notifyUsers": "false", "expand": "properties"},
    )
    assert r.status_code == 201, r.text
    wl = r.json()
    assert wl["started"] == STARTED
    assert wl["timeSpent"] == "1h"
    assert wl["properties"] == [{"key": "jb", "value": {"ext": "r-1"}}]
    fields = (await client.get(f"/rest/api/3/issue/{key}")).json()["fields"]
    assert fields["timeestimate"] == 3 * 3600
    assert fields["timespent"] == 3600

    r = await client.put(
        f"/rest/api/2/issue/{key}/worklog/{wl['id']}", json={"timeSpent": "2h", "comment": "more"}
    )
    assert r.status_code == 200
    assert r.json()["timeSpentSeconds"] == 7200
    assert r.json()["comment"] == "more"
    assert (await client.get(f"/rest/api/3/issue/{key}")).json()["fields"][
        "timeestimate"
    ] == 2 * 3600

    r = await client.delete(
        f"/rest/api/3/issue/{key}/worklog/{wl['id']}", params={"adjustEstimate": "leave"}
    )
    assert r.status_code == 204
    assert (await client.get(f"/rest/api/3/issue/{key}/worklog/{wl['id']}")).status_code == 404
    assert (await client.get(f"/rest/api/3/issue/{key}")).json()["fields"][
        "timeestimate"
    ] == 2 * 3600


async def test_jira_refusals(client: httpx.AsyncClient, new_issue: Any) -> None:
    key = await new_issue()
    url = f"/rest/api/3/issue/{key}/worklog"
    r = await client.post(url, json={"started": STARTED, "timeSpentSeconds": 59})
    assert r.status_code == 400
    assert "timeLogged" in r.json()["errors"]
    for bad in ("2026-11-19T09:00:00.000Z", "2026-11-19T09:00:00.000+00:00", "2026-11-19 09:00"):
        r = await client.post(url, json={"started": bad, "timeSpentSeconds": 60})
        assert r.status_code == 400, bad
        assert "yyyy-MM-dd'T'HH:mm:ss.SSSZ" in r.json()["errors"]["started"]
    r = await client.post(url, json={"started": STARTED, "timeSpentSeconds": 60, "timeSpent": "1m"})
    assert r.status_code == 400
    r = await client.post(
        url, json={"started": STARTED, "timeSpentSeconds": 60}, params={"adjustEstimate": "new"}
    )
    assert r.status_code == 400
    r = await client.post(
        url, json={"started": STARTED, "timeSpentSeconds": 60, "comment": "plain text on v3"}
    )
    assert r.status_code == 400
    assert (await client.get(url)).json()["total"] == 0


async def test_started_window_and_properties_expand(
    client: httpx.AsyncClient, new_issue: Any
) -> None:
    key = await new_issue()
    url = f"/rest/api/3/issue/{key}/worklog"
    for day in (17, 18, 19):
        body = {
            "started": f"2026-11-{day}T09:00:00.000+0000",
            "timeSpentSeconds": 600,
            "properties": [{"key": "jb", "value": f"d{day}"}],
        }
        assert (await client.post(url, json=body)).status_code == 201
    after = 1794992400000  # 2026-11-18T09:00:00Z
    before = after + 86_400_000
    r = await client.get(
        url, params={"startedAfter": after, "startedBefore": before, "expand": "properties"}
    )
    logs = r.json()["worklogs"]
    assert [w["properties"][0]["value"] for w in logs] == ["d18"]
    r = await client.get(url)
    assert "properties" not in r.json()["worklogs"][0]


async def test_updated_and_deleted_feeds_skip_the_last_minute(
    client: httpx.AsyncClient, runtime: SimRuntime, new_issue: Any
) -> None:
    key = await new_issue()
    url = f"/rest/api/3/issue/{key}/worklog"
    since = runtime.site.now_ms()
    ids = []
    for _ in range(3):
        r = await client.post(
            url,
            json={
                "started": STARTED,
                "timeSpentSeconds": 60,
                "properties": [{"key": "jb", "value": "x"}],
            },
        )
        ids.append(int(r.json()["id"]))
        runtime.clock.advance(1)
    feed = (await client.get("/rest/api/3/worklog/updated", params={"since": since})).json()
    assert feed["values"] == []
    assert feed["lastPage"] is True
    runtime.clock.advance(61)
    feed = (
        await client.get(
            "/rest/api/3/worklog/updated", params={"since": since, "expand": "properties"}
        )
    ).json()
    assert [v["worklogId"] for v in feed["values"]] == ids
    assert feed["values"][0]["properties"] == [{"key": "jb", "value": "x"}]
    assert feed["until"] == feed["values"][-1]["updatedTime"]

    assert (await client.delete(f"{url}/{ids[0]}")).status_code == 204
    deleted_since = runtime.site.now_ms()
    runtime.clock.advance(61)
    deleted = (
        await client.get("/rest/api/3/worklog/deleted", params={"since": deleted_since})
    ).json()
    assert [v["worklogId"] for v in deleted["values"]] == [ids[0]]

    listed = (await client.post("/rest/api/3/worklog/list", json={"ids": ids})).json()
    assert sorted(int(w["id"]) for w in listed) == ids[1:]


async def test_feed_pages_of_1000(client: httpx.AsyncClient, runtime: SimRuntime) -> None:
    from jirabridge.sim.model import Worklog

    site = runtime.site
    issue = next(iter(site.issues.values()))
    base = site.now_ms() - 10 * 60_000
    for n in range(1500):
        wl = Worklog(
            site.next_id("worklog"),
            issue.id,
            issue.reporter or "",
            issue.reporter or "",
            None,
            base + n,
            base + n,
            base,
            60,
        )
        issue.worklogs.append(wl)
        site.worklog_index[wl.id] = wl
    first = (await client.get("/rest/api/3/worklog/updated", params={"since": base})).json()
    assert len(first["values"]) == 1000
    assert first["lastPage"] is False
    assert "since=" in first["nextPage"]
    second = (
        await client.get("/rest/api/3/worklog/updated", params={"since": first["until"] + 1})
    ).json()
    assert len(second["values"]) == 500
    assert second["lastPage"] is True


async def test_worklog_properties_api(client: httpx.AsyncClient, new_issue: Any) -> None:
    key = await new_issue()
    r = await client.post(
        f"/rest/api/3/issue/{key}/worklog", json={"started": STARTED, "timeSpentSeconds": 120}
    )
    assert r.status_code == 201, r.text
    wl = r.json()
    base = f"/rest/api/3/issue/{key}/worklog/{wl['id']}/properties"
    assert (await client.put(f"{base}/jb", json={"ext": 1})).status_code == 201
    assert (await client.put(f"{base}/jb", json={"ext": 2})).status_code == 200
    assert (await client.get(f"{base}/jb")).json()["value"] == {"ext": 2}
    assert [k["key"] for k in (await client.get(base)).json()["keys"]] == ["jb"]
    assert (await client.delete(f"{base}/jb")).status_code == 204
    assert (await client.get(f"{base}/jb")).status_code == 404
