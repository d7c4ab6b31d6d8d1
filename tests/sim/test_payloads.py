"""Webhook bodies the simulator publishes have the shape of real Jira payloads.

For each event the real fixtures cover, the simulator's payload is compared with the fixture
recursively: the same keys (with a short, documented list of keys Jira no longer sends on Cloud
or that only exist with extra apps) and the same JSON value types wherever both sides have a
non-null value. Inside ``issue.fields`` only the fields both sides have are compared (real
sites carry dozens of custom fields), but the core fields must be present.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from jirabridge.sim.app import SimRuntime
from jirabridge.sim.events import SimEvent
from sim.simkit import ADF

FIXTURES = Path(__file__).parents[1] / "fixtures" / "webhooks" / "jira"

# Keys a fixture has that the simulator leaves out, and why.
ALLOWED_MISSING = {
    "name",  # users: removed from Cloud payloads by the GDPR migration (accountId replaces it)
    "key",  # users: idem (still present for issues, checked separately)
    "tmpFromAccountId",  # changelog items: transitional fields of the GDPR migration
    "tmpToAccountId",
    "jsdAuthorCanSeeRequest",  # Jira Service Management only
    "avatarId",  # issue types: only classic avatars
    "percent",  # progress: absent when total is 0
    "simplified",  # project short form inside comment payloads
}
# Keys the simulator sends that some fixtures lack, and why that is still Jira's shape.
ALLOWED_EXTRA = {
    "accountType",  # users: newer Cloud payloads carry it (the custom-field fixture has it)
    "hierarchyLevel",  # issue types: newer Cloud payloads
    "simplified",  # projects: present in newer fixtures, absent in older ones
    "emailAddress",  # users: hidden when the user's profile keeps the email private
    "projectTypeKey",  # projects: the Server fixture predates it; current DC and Cloud send it
}
CORE_FIELDS = {
    "summary",
    "issuetype",
    "project",
    "status",
    "priority",
    "assignee",
    "reporter",
    "labels",
    "created",
    "updated",
}


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    return type(value).__name__


def shape_problems(ours: Any, real: Any, path: str = "$") -> list[str]:
    if ours is None or real is None:
        return []
    if _kind(ours) != _kind(real):
        return [f"{path}: {_kind(ours)} != {_kind(real)}"]
    problems: list[str] = []
    if isinstance(real, dict):
        in_fields = path.endswith(".fields")
        for key, value in real.items():
            if key not in ours:
                if in_fields or key in ALLOWED_MISSING:
                    continue
                if path.endswith(
                    ("user", "author", "updateAuthor", "assignee", "reporter", "creator")
                ) and key in ("name", "key"):
                    continue
                problems.append(f"{path}.{key}: missing")
                continue
            problems += shape_problems(ours[key], value, f"{path}.{key}")
        if not in_fields:
            extra = set(ours) - set(real) - ALLOWED_EXTRA
            problems += [f"{path}.{k}: not in the real payload" for k in sorted(extra)]
        else:
            missing_core = (CORE_FIELDS & set(real)) - set(ours)
            problems += [f"{path}.{k}: core field missing" for k in sorted(missing_core)]
    elif isinstance(real, list) and real and ours:
        problems += shape_problems(ours[0], real[0], f"{path}[0]")
    return problems


def _fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text())  # type: ignore[no-any-return]


def _events(runtime: SimRuntime, name: str) -> list[SimEvent]:
    return [e for e in runtime.site.event_log if e.name == name]


async def _story(client: httpx.AsyncClient, runtime: SimRuntime) -> str:
    r = await client.post(
        "/rest/api/3/issue",
        json={
            "fields": {
                "project": {"key": "DEMO"},
                "issuetype": {"name": "Story"},
                "summary": "Hook",
                "description": ADF,
                "labels": ["a"],
            }
        },
    )
    assert r.status_code == 201
    return str(r.json()["key"])


async def test_issue_created(client: httpx.AsyncClient, runtime: SimRuntime) -> None:
    await _story(client, runtime)
    payload = _events(runtime, "jira:issue_created")[-1].payload
    for fixture in (
        "mattermost-webhook-issue-created.json",
        "mattermost-webhook-cloud-issue-created-many-fields.json",
    ):
        assert shape_problems(payload, _fixture(fixture)) == []


@pytest.mark.parametrize(
    ("fixture", "change"),
    [
        ("mattermost-webhook-issue-updated-labels.json", {"update": {"labels": [{"add": "b"}]}}),
        ("mattermost-webhook-issue-updated-assigned.json", "assign"),
        ("mattermost-webhook-issue-updated-resolved.json", "resolve"),
        ("mattermost-webhook-issue-updated-sprint.json", "sprint"),
        (
            "mattermost-webhook-cloud-issue-updated-custom-field.json",
            {"fields": {"customfield_10016": 5}},
        ),
    ],
)
async def test_issue_updated(
    client: httpx.AsyncClient, runtime: SimRuntime, fixture: str, change: Any
) -> None:
    key = await _story(client, runtime)
    if change == "assign":
        r = await client.put(
            f"/rest/api/3/issue/{key}/assignee", json={"accountId": runtime.admin.account_id}
        )
    elif change == "resolve":
        r = await client.post(
            f"/rest/api/3/issue/{key}/transitions", json={"transition": {"id": "31"}}
        )
    elif change == "sprint":
        sprint = next(s for s in runtime.site.sprints.values() if s.state == "active")
        r = await client.post(f"/rest/agile/1.0/sprint/{sprint.id}/issue", json={"issues": [key]})
    else:
        r = await client.put(f"/rest/api/3/issue/{key}", json=change)
    assert r.status_code == 204, r.text
    event = _events(runtime, "jira:issue_updated")[-1]
    real = _fixture(fixture)
    assert event.payload["issue_event_type_name"] == real["issue_event_type_name"]
    assert shape_problems(event.payload, real) == []


async def test_issue_deleted(client: httpx.AsyncClient, runtime: SimRuntime) -> None:
    key = await _story(client, runtime)
    assert (await client.delete(f"/rest/api/3/issue/{key}")).status_code == 204
    payload = _events(runtime, "jira:issue_deleted")[-1].payload
    assert shape_problems(payload, _fixture("mattermost-webhook-issue-deleted.json")) == []


async def test_comment_events(client: httpx.AsyncClient, runtime: SimRuntime) -> None:
    key = await _story(client, runtime)
    r = await client.post(f"/rest/api/3/issue/{key}/comment", json={"body": ADF})
    cid = r.json()["id"]
    await client.put(f"/rest/api/3/issue/{key}/comment/{cid}", json={"body": ADF})
    await client.delete(f"/rest/api/3/issue/{key}/comment/{cid}")
    for name, fixture in (
        ("comment_created", "mattermost-webhook-cloud-comment-created.json"),
        ("comment_updated", "mattermost-webhook-cloud-comment-updated.json"),
        ("comment_deleted", "mattermost-webhook-cloud-comment-deleted.json"),
    ):
        payload = _events(runtime, name)[-1].payload
        assert payload["comment"]["body"] == "hello"  # webhooks carry v2 bodies
        assert shape_problems(payload, _fixture(fixture)) == [], name


async def test_issue_commented_on_datacenter(dc_client: httpx.AsyncClient, dc_app: Any) -> None:
    """The commented fixture comes from a Server site, so the DC flavour is compared with it."""
    runtime = dc_app.state.sim
    r = await dc_client.post(
        "/rest/api/2/issue",
        json={
            "fields": {"project": {"key": "DEMO"}, "issuetype": {"name": "Task"}, "summary": "C"}
        },
    )
    key = r.json()["key"]
    await dc_client.post(f"/rest/api/2/issue/{key}/comment", json={"body": "hello"})
    event = _events(runtime, "jira:issue_updated")[-1]
    real = _fixture("mattermost-webhook-server-issue-updated-commented-2.json")
    assert event.payload["issue_event_type_name"] == "issue_commented"
    assert shape_problems(event.payload, real) == []
    # The Server comment fixture predates the short issue Cloud adds: compare the comment.
    server_comment = _events(runtime, "comment_created")[-1].payload["comment"]
    real_comment = _fixture("mattermost-webhook-server-comment-created.json")["comment"]
    assert shape_problems(server_comment, real_comment) == []


def test_the_checker_catches_differences() -> None:
    real = _fixture("mattermost-webhook-issue-deleted.json")
    broken = json.loads(json.dumps(real))
    broken["issue"]["id"] = 10
    del broken["timestamp"]
    broken["extra"] = 1
    problems = shape_problems(broken, real)
    assert "$.issue.id: number != str" in problems
    assert "$.timestamp: missing" in problems
    assert "$.extra: not in the real payload" in problems


async def test_every_change_publishes_an_event(
    client: httpx.AsyncClient, runtime: SimRuntime
) -> None:
    key = await _story(client, runtime)
    await client.post(
        f"/rest/api/3/issue/{key}/worklog",
        json={"started": "2026-11-19T09:00:00.000+0000", "timeSpentSeconds": 60},
    )
    wl = _events(runtime, "worklog_created")[-1]
    assert wl.issue_key == key
    assert wl.payload["worklog"]["timeSpentSeconds"] == 60
    other = await _story(client, runtime)
    await client.post(
        "/rest/api/3/issueLink",
        json={
            "type": {"name": "Relates"},
            "inwardIssue": {"key": key},
            "outwardIssue": {"key": other},
        },
    )
    assert _events(runtime, "issuelink_created")
