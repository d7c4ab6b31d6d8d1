"""The blocking facade runs the async client's own methods on a private loop."""

from __future__ import annotations

import httpx
import pytest

from jirabridge.errors import ApiNotFoundError, ConfigError
from jirabridge.jira import DeploymentType, JiraClient, SyncJiraClient

from support.jira_fakes import FakeJira
from support.jira_spec_validation import HOST


def _facade(fake: FakeJira) -> SyncJiraClient:
    return SyncJiraClient(
        lambda: JiraClient(
            HOST,
            auth=httpx.BasicAuth("u", "p"),
            deployment=DeploymentType.CLOUD,
            transport=httpx.MockTransport(fake),
        )
    )


def test_blocking_calls_and_streaming_search(fake: FakeJira) -> None:
    fake.on("GET", "/rest/api/3/myself", {"accountId": "a", "displayName": "Ann"})
    pages = [
        {"issues": [{"id": "1", "key": "ED-1"}], "nextPageToken": "n", "isLast": False},
        {"issues": [{"id": "2", "key": "ED-2"}], "isLast": True},
    ]
    fake.on("POST", "/rest/api/3/search/jql", *pages)
    fake.on("GET", "/rest/api/3/issue/NOPE-1", httpx.Response(404, json={}))
    with _facade(fake) as jira:
        assert jira.myself().display_name == "Ann"
        stream = jira.search("project = ED", strategy="pages")
        assert next(stream).key == "ED-1"
        assert len([s for s in fake.sent if s.path.endswith("/search/jql")]) == 1
        assert [i.key for i in stream] == ["ED-2"]
        with pytest.raises(ApiNotFoundError):
            jira.get_issue("NOPE-1")


def test_facade_wraps_the_same_methods() -> None:
    # Every facade operation is a wrapper around the async client's method of the same name.
    for name, attr in vars(SyncJiraClient).items():
        method = getattr(attr, "_method", None)
        if method is not None:
            assert method is getattr(JiraClient, name)


async def test_refuses_to_run_inside_a_loop(fake: FakeJira) -> None:
    with pytest.raises(ConfigError, match="event loop"):
        _facade(fake)
