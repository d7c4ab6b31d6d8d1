"""Models parse Atlassian's own examples and keep what they do not know."""

from __future__ import annotations

from datetime import UTC, datetime

from jirabridge.jira import Issue, ServerInfo, Sprint, User, Worklog

from support.jira_fakes import spec_example


def test_user_cloud_and_dc_identity() -> None:
    cloud = User.model_validate(spec_example("/rest/api/3/myself", "get", "200"))
    assert cloud.account_id
    assert cloud.identity == cloud.account_id
    assert cloud.reference() == {"accountId": cloud.account_id}
    dc = User.model_validate({"name": "jsmith", "key": "JIRAUSER1", "displayName": "J"})
    assert dc.identity == "jsmith"
    assert dc.reference() == {"name": "jsmith"}


def test_server_info_example() -> None:
    info = ServerInfo.model_validate(spec_example("/rest/api/3/serverInfo", "get", "200"))
    assert info.version == "1001.0.0-SNAPSHOT"
    assert info.server_time == datetime(2020, 3, 31, 16, 43, 50, tzinfo=UTC)
    assert not info.is_cloud
    assert ServerInfo(deployment_type="Cloud").is_cloud


def test_worklog_example_and_properties() -> None:
    page = spec_example("/rest/api/3/issue/{issueIdOrKey}/worklog", "get", "200")
    worklog = Worklog.model_validate(page["worklogs"][0])
    assert worklog.started is not None
    assert worklog.started.tzinfo is not None
    assert worklog.time_spent_seconds == page["worklogs"][0]["timeSpentSeconds"]
    stamped = Worklog.model_validate({"properties": [{"key": "k", "value": {"v": 1}}]})
    assert stamped.get_property("k") == {"v": 1}
    assert stamped.get_property("other") is None
    wire = Worklog(started=datetime(2026, 11, 20, 9, tzinfo=UTC), time_spent_seconds=60).to_wire()
    assert wire == {
        "started": "2026-11-20T09:00:00.000+0000",
        "timeSpentSeconds": 60,
        "properties": [],
    }


def test_issue_accessors_and_changelog() -> None:
    issue = Issue.model_validate(
        {
            "id": "1",
            "key": "ED-1",
            "self": "https://jira.test/rest/api/3/issue/1",
            "fields": {
                "summary": "S",
                "status": {
                    "id": "3",
                    "name": "In Progress",
                    "statusCategory": {"key": "indeterminate"},
                },
                "issuetype": {"id": "10001", "name": "Story"},
                "labels": ["a", "b"],
                "parent": {"key": "ED-0"},
                "created": "2026-11-20T09:00:00.000+0000",
                "customfield_10020": [{"id": 5, "name": "Sprint 5"}],
            },
            "changelog": {
                "histories": [{"id": "9", "items": [{"field": "status", "from": "1", "to": "3"}]}]
            },
        }
    )
    assert issue.self_url == "https://jira.test/rest/api/3/issue/1"
    assert issue.status is not None
    assert issue.status.name == "In Progress"
    assert issue.issue_type is not None
    assert issue.issue_type.name == "Story"
    assert issue.labels == ["a", "b"]
    assert issue.parent_key == "ED-0"
    assert issue.project_key == "ED"
    assert issue.created == datetime(2026, 11, 20, 9, tzinfo=UTC)
    assert issue.custom_fields == {"customfield_10020": [{"id": 5, "name": "Sprint 5"}]}
    assert issue.history()[0].items[0].from_ == "1"
    assert issue.to_wire()["self"] == "https://jira.test/rest/api/3/issue/1"


def test_sprint_example() -> None:
    raw = spec_example("/rest/agile/1.0/sprint/{sprintId}", "get", "200", software=True)
    sprint = Sprint.model_validate(raw)
    assert sprint.state == "closed"
    assert sprint.start_date is not None
    assert sprint.complete_date is not None
    extra = sprint.model_extra or {}
    assert extra.get("self") == raw["self"]
