"""Agile 1.0 (boards, sprints, epics, backlog) and the dynamic-webhook lifecycle."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from jirabridge.errors import ValidationError
from jirabridge.jira import JiraClient, WebhookSpec

from support.jira_fakes import FakeJira, spec_example

START = datetime(2026, 11, 23, 9, tzinfo=UTC)


async def test_boards_and_sprints_page_and_parse(cloud: JiraClient, fake: FakeJira) -> None:
    boards = spec_example("/rest/agile/1.0/board", "get", "200", software=True)
    boards["isLast"] = True
    sprints = spec_example("/rest/agile/1.0/board/{boardId}/sprint", "get", "200", software=True)
    sprints["isLast"] = True
    fake.on("GET", "/rest/agile/1.0/board", boards)
    fake.on("GET", "/rest/agile/1.0/board/84/sprint", sprints)
    got = [b async for b in cloud.boards(project="ED", board_type="scrum")]
    assert [b.id for b in got] == [b["id"] for b in boards["values"]]
    assert fake.last.params == {
        "projectKeyOrId": "ED",
        "type": "scrum",
        "startAt": "0",
        "maxResults": "50",
    }
    got_sprints = [s async for s in cloud.board_sprints(84, states=["active", "closed"])]
    assert got_sprints[0].state == sprints["values"][0]["state"]
    assert got_sprints[0].start_date is not None
    assert got_sprints[0].start_date.utcoffset() == timedelta(hours=10)
    assert fake.last.params["state"] == "active,closed"


async def test_sprint_lifecycle_requests(cloud: JiraClient, fake: FakeJira) -> None:
    sprint = spec_example("/rest/agile/1.0/sprint/{sprintId}", "get", "200", software=True)
    fake.on("POST", "/rest/agile/1.0/sprint", httpx.Response(201, json=sprint))
    fake.on("POST", "/rest/agile/1.0/sprint/37", sprint)
    fake.on("POST", "/rest/agile/1.0/sprint/37/issue", httpx.Response(204))
    created = await cloud.create_sprint(
        "Sprint 1", board_id=84, start=START, end=START + timedelta(days=14), goal="ship"
    )
    assert created.id == sprint["id"]
    assert fake.last.body == {
        "name": "Sprint 1",
        "originBoardId": 84,
        "startDate": "2026-11-23T09:00:00.000+0000",
        "endDate": "2026-12-07T09:00:00.000+0000",
        "goal": "ship",
    }
    await cloud.start_sprint(37, start=START, end=START + timedelta(days=14))
    assert fake.last.body["state"] == "active"
    await cloud.close_sprint(37)
    assert fake.last.body == {"state": "closed"}
    await cloud.move_issues_to_sprint(37, [f"ED-{n}" for n in range(120)])
    moves = [s for s in fake.sent if s.path.endswith("/sprint/37/issue")]
    assert [len(s.body["issues"]) for s in moves] == [50, 50, 20]
    with pytest.raises(ValidationError):
        await cloud.start_sprint(37, start=START, end=START)
    with pytest.raises(ValidationError, match="timezone"):
        await cloud.create_sprint("x", board_id=1, start=datetime(2026, 1, 1))


async def test_sprint_epic_and_backlog_issues(cloud: JiraClient, fake: FakeJira) -> None:
    page = {
        "startAt": 0,
        "maxResults": 50,
        "total": 1,
        "issues": [{"id": "1", "key": "ED-1", "fields": {}}],
    }
    epics = spec_example("/rest/agile/1.0/board/{boardId}/epic", "get", "200", software=True)
    epics["isLast"] = True
    fake.on(
        "GET",
        "/rest/agile/1.0/(sprint/37|board/84/backlog|epic/ED-9)/issue|/rest/agile/1.0/board/84/backlog",
        page,
    )
    fake.on("GET", "/rest/agile/1.0/board/84/epic", epics)
    assert [i.key async for i in cloud.sprint_issues(37, fields=["summary", "status"])] == ["ED-1"]
    assert fake.last.params["fields"] == "summary,status"
    assert [i.key async for i in cloud.backlog_issues(84)] == ["ED-1"]
    assert [i.key async for i in cloud.epic_issues("ED-9")] == ["ED-1"]
    assert [e.name async for e in cloud.board_epics(84, done=False)] == [
        e["name"] for e in epics["values"]
    ]
    assert fake.last.params["done"] == "false"


async def test_dynamic_webhooks(cloud: JiraClient, fake: FakeJira) -> None:
    registered = spec_example("/rest/api/3/webhook", "post", "200")
    listed = spec_example("/rest/api/3/webhook", "get", "200")
    fake.on("POST", "/rest/api/3/webhook", registered)
    fake.on("GET", "/rest/api/3/webhook", listed)
    fake.on(
        "PUT",
        "/rest/api/3/webhook/refresh",
        spec_example("/rest/api/3/webhook/refresh", "put", "200"),
    )
    fake.on("DELETE", "/rest/api/3/webhook", httpx.Response(202))
    results = await cloud.register_webhooks(
        "https://app.example.com/hooks/jira",
        [
            WebhookSpec(
                events=["jira:issue_created"],
                jql_filter="project = ED",
                field_ids_filter=["summary"],
            )
        ],
    )
    assert fake.last.body == {
        "url": "https://app.example.com/hooks/jira",
        "webhooks": [
            {
                "events": ["jira:issue_created"],
                "jqlFilter": "project = ED",
                "fieldIdsFilter": ["summary"],
            }
        ],
    }
    assert [r.created_webhook_id for r in results] == [1000, None, 1001]
    assert results[1].errors == ["The clause watchCount is unsupported"]
    hooks = [h async for h in cloud.webhooks()]
    assert [h.id for h in hooks] == [h["id"] for h in listed["values"]]
    expiry = await cloud.refresh_webhooks([1000, 1001])
    assert fake.last.body == {"webhookIds": [1000, 1001]}
    assert expiry == datetime(2019, 6, 1, 12, 42, 30, tzinfo=UTC)
    await cloud.delete_webhooks([1000])
    assert (fake.last.method, fake.last.body) == ("DELETE", {"webhookIds": [1000]})
    with pytest.raises(ValidationError, match="JQL"):
        await cloud.register_webhooks(
            "https://x", [WebhookSpec(events=["jira:issue_created"], jql_filter=" ")]
        )
