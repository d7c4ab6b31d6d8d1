"""The smaller operations not covered elsewhere: exact method, path, params and body."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from jirabridge.jira import JiraClient

from support.jira_fakes import FakeJira

Call = Callable[[JiraClient], Awaitable[Any]]

CASES: list[tuple[str, Call, str, str, dict[str, str], Any, Any]] = [
    (
        "update_comment",
        lambda j: j.update_comment("ED-1", "10", "edited"),
        "PUT",
        "/rest/api/3/issue/ED-1/comment/10",
        {},
        {
            "body": {
                "type": "doc",
                "version": 1,
                "content": [{"type": "paragraph", "content": [{"type": "text", "text": "edited"}]}],
            }
        },
        {"id": "10"},
    ),
    (
        "delete_comment",
        lambda j: j.delete_comment("ED-1", "10"),
        "DELETE",
        "/rest/api/3/issue/ED-1/comment/10",
        {},
        None,
        httpx.Response(204),
    ),
    (
        "delete_issue_link",
        lambda j: j.delete_issue_link("10001"),
        "DELETE",
        "/rest/api/3/issueLink/10001",
        {},
        None,
        httpx.Response(204),
    ),
    (
        "get_worklog",
        lambda j: j.get_worklog("ED-1", "100", expand_properties=True),
        "GET",
        "/rest/api/3/issue/ED-1/worklog/100",
        {"expand": "properties"},
        None,
        {"id": "100", "timeSpentSeconds": 60},
    ),
    (
        "get_project",
        lambda j: j.get_project("ED"),
        "GET",
        "/rest/api/3/project/ED",
        {},
        None,
        {"id": "1", "key": "ED", "name": "Ed"},
    ),
    (
        "get_sprint",
        lambda j: j.get_sprint(37),
        "GET",
        "/rest/agile/1.0/sprint/37",
        {},
        None,
        {"id": 37, "name": "S"},
    ),
    (
        "move_issues_to_backlog",
        lambda j: j.move_issues_to_backlog(["ED-1", "ED-2"]),
        "POST",
        "/rest/agile/1.0/backlog/issue",
        {},
        {"issues": ["ED-1", "ED-2"]},
        httpx.Response(204),
    ),
    (
        "update_sprint",
        lambda j: j.update_sprint(37, name="Renamed", goal="g"),
        "POST",
        "/rest/agile/1.0/sprint/37",
        {},
        {"name": "Renamed", "goal": "g"},
        {"id": 37, "name": "Renamed"},
    ),
    (
        "add_remote_link without global id",
        lambda j: j.add_remote_link("ED-1", url="https://x.test/1", title="One"),
        "POST",
        "/rest/api/3/issue/ED-1/remotelink",
        {},
        {"object": {"url": "https://x.test/1", "title": "One"}},
        httpx.Response(201, json={"id": 5}),
    ),
]


@pytest.mark.parametrize(
    ("call", "method", "path", "params", "body", "answer"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
async def test_operation_sends_exactly(
    cloud: JiraClient,
    fake: FakeJira,
    call: Call,
    method: str,
    path: str,
    params: dict[str, str],
    body: Any,
    answer: Any,
) -> None:
    fake.on(method, path, answer)
    await call(cloud)
    assert len(fake.sent) == 1
    sent = fake.last
    assert (sent.method, sent.path, sent.params, sent.body) == (method, path, params, body)


async def test_dc_fetch_issues_searches_by_key(dc: JiraClient, fake: FakeJira) -> None:
    fake.on(
        "POST",
        "/rest/api/2/search",
        {
            "startAt": 0,
            "total": 2,
            "issues": [{"id": "1", "key": "ED-1"}, {"id": "2", "key": "ED-2"}],
        },
    )
    got = [i.key async for i in dc.fetch_issues(["ED-1", 'ED"2'], fields=["summary"])]
    assert got == ["ED-1", "ED-2"]
    assert fake.last.body["jql"] == 'key in ("ED-1", "ED\\"2")'


async def test_webhook_listing_pages(cloud: JiraClient, fake: FakeJira) -> None:
    def page(request: httpx.Request) -> httpx.Response:
        start = int(request.url.params["startAt"])
        values = [
            {"id": n, "jqlFilter": "project = ED", "events": ["jira:issue_created"]}
            for n in range(start, min(start + 100, 130))
        ]
        return httpx.Response(
            200,
            json={"startAt": start, "total": 130, "isLast": start + 100 >= 130, "values": values},
        )

    fake.on("GET", "/rest/api/3/webhook", page)
    assert [w.id async for w in cloud.webhooks()] == list(range(130))
    assert [s.params["startAt"] for s in fake.sent] == ["0", "100"]
