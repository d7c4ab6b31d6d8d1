"""Bulk create: up to 50, failures reported by position, the rest created."""

from __future__ import annotations

import httpx


def _issue(summary: str | None, project: str = "DEMO") -> dict[str, object]:
    fields: dict[str, object] = {"project": {"key": project}, "issuetype": {"name": "Story"}}
    if summary is not None:
        fields["summary"] = summary
    return {"fields": fields}


async def test_partial_failures_by_position(client: httpx.AsyncClient) -> None:
    body = {
        "issueUpdates": [
            _issue("ok 0"),
            _issue(None),
            _issue("ok 2"),
            _issue("bad", "NOPE"),
            _issue("ok 4"),
        ]
    }
    r = await client.post("/rest/api/3/issue/bulk", json=body)
    assert r.status_code == 201
    result = r.json()
    assert len(result["issues"]) == 3
    assert [e["failedElementNumber"] for e in result["errors"]] == [1, 3]
    assert "summary" in result["errors"][0]["elementErrors"]["errors"]
    assert result["errors"][1]["status"] == 400
    keys = [i["key"] for i in result["issues"]]
    summaries = [
        (await client.get(f"/rest/api/3/issue/{k}")).json()["fields"]["summary"] for k in keys
    ]
    assert summaries == ["ok 0", "ok 2", "ok 4"]


async def test_all_failed_is_400_and_over_50_refused(client: httpx.AsyncClient) -> None:
    r = await client.post("/rest/api/3/issue/bulk", json={"issueUpdates": [_issue(None)]})
    assert r.status_code == 400
    assert r.json()["issues"] == []
    r = await client.post(
        "/rest/api/3/issue/bulk", json={"issueUpdates": [_issue(f"s{i}") for i in range(51)]}
    )
    assert r.status_code == 400
    count = await client.post(
        "/rest/api/3/search/approximate-count", json={"jql": "project = DEMO"}
    )
    assert count.json()["count"] == 30


async def test_fifty_are_created_with_consecutive_keys(client: httpx.AsyncClient) -> None:
    r = await client.post(
        "/rest/api/3/issue/bulk", json={"issueUpdates": [_issue(f"s{i}") for i in range(50)]}
    )
    keys = [i["key"] for i in r.json()["issues"]]
    assert keys == [f"DEMO-{n}" for n in range(31, 81)]
