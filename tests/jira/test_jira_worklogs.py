"""Worklogs: request shapes, estimates, incremental feeds, and the exactly-once add."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
import pytest

from jirabridge.errors import ValidationError
from jirabridge.jira import EXTERNAL_ID_PROPERTY, JiraClient

from support.jira_fakes import FakeJira, spec_example

WL = "/rest/api/3/issue/{issueIdOrKey}/worklog"
STARTED = datetime(2026, 11, 20, 9, 0, tzinfo=timezone(timedelta(hours=1)))


def _worklog_answer(request: httpx.Request) -> httpx.Response:
    body = json.loads(request.content)
    return httpx.Response(201, json={"id": "100", "issueId": "10001", **body})


async def test_add_worklog_shape_and_defaults(cloud: JiraClient, fake: FakeJira) -> None:
    fake.on("POST", "/rest/api/3/issue/ED-1/worklog", _worklog_answer)
    worklog = await cloud.add_worklog(
        "ED-1", started=STARTED, time_spent_seconds=5400, comment="pairing", properties={"k": 1}
    )
    assert fake.last.params == {"notifyUsers": "false"}
    assert fake.last.body == {
        "started": "2026-11-20T09:00:00.000+0100",
        "timeSpentSeconds": 5400,
        "comment": {
            "type": "doc",
            "version": 1,
            "content": [{"type": "paragraph", "content": [{"type": "text", "text": "pairing"}]}],
        },
        "properties": [{"key": "k", "value": 1}],
    }
    assert worklog.id == "100"
    assert worklog.started == STARTED
    assert worklog.get_property("k") == 1


async def test_estimate_options_per_verb(cloud: JiraClient, fake: FakeJira) -> None:
    fake.on("POST", "/rest/api/3/issue/ED-1/worklog", _worklog_answer)
    fake.on("PUT", "/rest/api/3/issue/ED-1/worklog/100", {"id": "100"})
    fake.on("DELETE", "/rest/api/3/issue/ED-1/worklog/100", httpx.Response(204))
    await cloud.add_worklog(
        "ED-1",
        started=STARTED,
        time_spent_seconds=60,
        adjust_estimate="manual",
        reduce_by="1h",
        notify_users=True,
    )
    assert fake.last.params == {"adjustEstimate": "manual", "reduceBy": "1h", "notifyUsers": "true"}
    await cloud.update_worklog(
        "ED-1", "100", time_spent_seconds=120, adjust_estimate="new", new_estimate="2d"
    )
    assert fake.last.params == {
        "adjustEstimate": "new",
        "newEstimate": "2d",
        "notifyUsers": "false",
    }
    assert fake.last.body == {"timeSpentSeconds": 120}
    await cloud.delete_worklog("ED-1", "100", adjust_estimate="manual", increase_by="30m")
    assert fake.last.params == {
        "adjustEstimate": "manual",
        "increaseBy": "30m",
        "notifyUsers": "false",
    }
    with pytest.raises(ValidationError, match="manual"):
        await cloud.update_worklog("ED-1", "100", time_spent_seconds=60, adjust_estimate="manual")
    with pytest.raises(ValidationError, match="new_estimate"):
        await cloud.add_worklog(
            "ED-1", started=STARTED, time_spent_seconds=60, adjust_estimate="new"
        )
    with pytest.raises(ValidationError, match="minute"):
        await cloud.add_worklog("ED-1", started=STARTED, time_spent_seconds=59)
    with pytest.raises(ValidationError, match="timezone"):
        await cloud.add_worklog("ED-1", started=datetime(2026, 1, 1), time_spent_seconds=60)


async def test_list_worklogs_with_window_and_properties(cloud: JiraClient, fake: FakeJira) -> None:
    example = spec_example(WL, "get", "200")
    fake.on("GET", "/rest/api/3/issue/ED-1/worklog", example)
    got = [
        w
        async for w in cloud.worklogs(
            "ED-1",
            started_after=STARTED,
            started_before=STARTED + timedelta(hours=1),
            expand_properties=True,
        )
    ]
    assert [w.id for w in got] == [w["id"] for w in example["worklogs"]]
    assert fake.last.params == {
        "startedAfter": str(int(STARTED.timestamp() * 1000)),
        "startedBefore": str(int(STARTED.timestamp() * 1000) + 3_600_000),
        "expand": "properties",
        "startAt": "0",
        "maxResults": "1000",
    }


async def test_updated_and_deleted_feeds_follow_until(cloud: JiraClient, fake: FakeJira) -> None:
    example = spec_example("/rest/api/3/worklog/updated", "get", "200")
    since = datetime(2026, 11, 1, tzinfo=UTC)
    ms = int(since.timestamp() * 1000)
    pages = [
        {"values": [{"worklogId": 1, "updatedTime": ms + 5}], "until": ms + 5, "lastPage": False},
        {"values": [{"worklogId": 2, "updatedTime": ms + 9}], "until": ms + 9, "lastPage": True},
    ]
    fake.on("GET", "/rest/api/3/worklog/updated", *pages)
    fake.on("GET", "/rest/api/3/worklog/deleted", example)
    changes = [c async for c in cloud.worklogs_updated(since, expand_properties=True)]
    assert [c.worklog_id for c in changes] == [1, 2]
    assert [s.params["since"] for s in fake.sent] == [str(ms), str(ms + 5)]
    assert fake.sent[0].params["expand"] == "properties"
    deleted = [c async for c in cloud.worklogs_deleted(since)]
    assert [c.worklog_id for c in deleted] == [v["worklogId"] for v in example["values"]]


async def test_worklogs_by_ids_chunks_at_1000(cloud: JiraClient, fake: FakeJira) -> None:
    example = spec_example("/rest/api/3/worklog/list", "post", "200")
    fake.on("POST", "/rest/api/3/worklog/list", example)
    got = await cloud.worklogs_by_ids(list(range(1, 1502)))
    sizes = [len(s.body["ids"]) for s in fake.sent]
    assert sizes == [1000, 501]
    assert len(got) == 2 * len(example)


class WorklogStore:
    def __init__(self) -> None:
        self.worklogs: list[dict[str, Any]] = []
        self.drop_next = 0

    def add(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        worklog = {"id": str(100 + len(self.worklogs)), "issueId": "10001", **body}
        self.worklogs.append(worklog)
        if self.drop_next:
            self.drop_next -= 1
            raise httpx.ReadTimeout("answer lost", request=request)
        return httpx.Response(201, json=worklog)

    def list(self, request: httpx.Request) -> httpx.Response:
        after = int(request.url.params["startedAfter"])
        before = int(request.url.params["startedBefore"])
        with_props = request.url.params.get("expand") == "properties"
        from jirabridge.jira.dates import parse_jira_datetime, to_epoch_ms

        hits = []
        for w in self.worklogs:
            at = to_epoch_ms(parse_jira_datetime(w["started"]))
            if after <= at <= before:
                hits.append(w if with_props else {k: v for k, v in w.items() if k != "properties"})
        return httpx.Response(
            200, json={"startAt": 0, "maxResults": 1000, "total": len(hits), "worklogs": hits}
        )


async def test_add_worklog_once_adopts_ours_after_a_lost_answer(
    reconciling: JiraClient, fake: FakeJira
) -> None:
    store = WorklogStore()
    fake.on("POST", "/rest/api/3/issue/ED-1/worklog", store.add)
    fake.on("GET", "/rest/api/3/issue/ED-1/worklog", store.list)
    # Someone logged the same slot by hand: same start, no external id. It must not be adopted.
    store.worklogs.append(
        {"id": "99", "started": "2026-11-20T09:00:00.000+0100", "timeSpentSeconds": 3600}
    )
    store.drop_next = 1
    worklog = await reconciling.add_worklog_once(
        "ED-1", external_id="rec-7", started=STARTED, time_spent_seconds=3600
    )
    assert worklog.id == "101"  # ours, not the manual "99"
    assert worklog.get_property(EXTERNAL_ID_PROPERTY) == {"externalId": "rec-7"}
    assert len(store.worklogs) == 2  # ours once, the manual one untouched
    posts = [s for s in fake.sent if s.method == "POST"]
    assert len(posts) == 1
    assert posts[0].params == {"notifyUsers": "false"}
    assert posts[0].body["properties"] == [
        {"key": EXTERNAL_ID_PROPERTY, "value": {"externalId": "rec-7"}}
    ]
    listing = next(s for s in fake.sent if s.method == "GET")
    assert listing.params["expand"] == "properties"


async def test_add_worklog_once_resends_when_nothing_was_applied(
    reconciling: JiraClient, fake: FakeJira
) -> None:
    store = WorklogStore()

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    fake.on("POST", "/rest/api/3/issue/ED-1/worklog", refuse, store.add)
    fake.on("GET", "/rest/api/3/issue/ED-1/worklog", store.list)
    worklog = await reconciling.add_worklog_once(
        "ED-1", external_id="rec-8", started=STARTED, time_spent_seconds=600
    )
    assert worklog.id == "100"
    assert len(store.worklogs) == 1
    assert [s.method for s in fake.sent] == ["POST", "GET", "POST"]
