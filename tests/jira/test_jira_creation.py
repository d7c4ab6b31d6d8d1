"""Exactly-once issue create and chunked bulk create, against a fake that loses answers."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from jirabridge.errors import AuthenticationError, ValidationError
from jirabridge.jira import EXTERNAL_ID_PROPERTY, IssueInput, JiraClient
from jirabridge.jira.creation import ReconcilePolicy

from support.jira_fakes import FakeJira, NoSleep, spec_example


class Tracker:
    """A tiny issue store behind /issue, /issue/bulk and /search/jql that can drop answers
    after applying a write, and whose search index shows a write only once the client has
    waited ``lag`` seconds since it (time is what ``no_sleep`` recorded)."""

    def __init__(self, waits: list[float]) -> None:
        self.issues: list[dict[str, Any]] = []
        self.drop_next = 0
        self.fail_positions: set[int] = set()
        self.lag = 0.0
        self.searches = 0
        self.waits = waits
        self.jqls: list[str] = []

    def now(self) -> float:
        return sum(self.waits)

    def _store(self, update: dict[str, Any]) -> dict[str, Any]:
        n = len(self.issues) + 1
        props = {p["key"]: p["value"] for p in update.get("properties", [])}
        issue = {
            "id": str(10000 + n),
            "key": f"ED-{n}",
            "fields": update["fields"],
            "properties": props,
            "indexed_at": self.now() + self.lag,
        }
        self.issues.append(issue)
        return {
            "id": issue["id"],
            "key": issue["key"],
            "self": f"https://jira.test/rest/api/3/issue/{issue['id']}",
        }

    def create(self, request: httpx.Request) -> httpx.Response:
        created = self._store(json.loads(request.content))
        if self.drop_next:
            self.drop_next -= 1
            raise httpx.ReadError("connection dropped after the write", request=request)
        return httpx.Response(201, json=created)

    def bulk(self, request: httpx.Request) -> httpx.Response:
        updates = json.loads(request.content)["issueUpdates"]
        created, errors = [], []
        for position, update in enumerate(updates):
            if update["fields"].get("summary") in {f"bad {p}" for p in self.fail_positions}:
                errors.append(
                    {
                        "failedElementNumber": position,
                        "status": 400,
                        "elementErrors": {"errorMessages": [], "errors": {"summary": "rejected"}},
                    }
                )
            else:
                created.append(self._store(update))
        if self.drop_next:
            self.drop_next -= 1
            raise httpx.ReadError("connection dropped after the write", request=request)
        return httpx.Response(201, json={"issues": created, "errors": errors})

    def search(self, request: httpx.Request) -> httpx.Response:
        self.searches += 1
        body = json.loads(request.content)
        self.jqls.append(body["jql"])
        visible = [i for i in self.issues if i["indexed_at"] <= self.now()]
        issues = [
            {
                "id": i["id"],
                "key": i["key"],
                "fields": {"summary": i["fields"].get("summary")},
                "properties": {
                    k: v for k, v in i["properties"].items() if k in body.get("properties", [])
                },
            }
            for i in visible
        ]
        return httpx.Response(200, json={"issues": issues, "isLast": True})


@pytest.fixture
def tracker(fake: FakeJira, no_sleep: NoSleep) -> Tracker:
    t = Tracker(no_sleep.waits)
    fake.on("POST", "/rest/api/3/issue", t.create)
    fake.on("POST", "/rest/api/3/issue/bulk", t.bulk)
    fake.on("POST", "/rest/api/3/search/jql", t.search)
    return t


FIELDS = {"project": {"key": "ED"}, "issuetype": {"name": "Story"}, "summary": "Export me"}


async def test_create_once_stamps_the_external_id(
    reconciling: JiraClient, fake: FakeJira, tracker: Tracker
) -> None:
    created = await reconciling.create_issue_once(FIELDS, external_id="story-1")
    assert created.key == "ED-1"
    assert fake.last.body["properties"] == [
        {"key": EXTERNAL_ID_PROPERTY, "value": {"externalId": "story-1"}}
    ]


async def test_lost_answer_is_reconciled_not_resent(
    reconciling: JiraClient, fake: FakeJira, tracker: Tracker, no_sleep: NoSleep
) -> None:
    tracker.drop_next = 1
    tracker.lag = 3.0  # an immediate search would not see the new issue
    created = await reconciling.create_issue_once(FIELDS, external_id="story-1")
    assert created.key == "ED-1"
    assert len(tracker.issues) == 1  # no duplicate
    # One look-up, after waiting for the index to settle.
    searches = [s for s in fake.sent if s.path.endswith("/search/jql")]
    assert len(searches) == 1
    assert no_sleep.waits == [5.0]
    jql = searches[0].body["jql"]
    assert 'project = "ED"' in jql
    assert "creator = currentUser()" in jql
    assert 'created >= "-15m"' in jql
    assert searches[0].body["properties"] == [EXTERNAL_ID_PROPERTY]


async def test_create_resent_only_when_reconcile_finds_nothing(
    reconciling: JiraClient, fake: FakeJira, tracker: Tracker
) -> None:
    def refuse_then_create(request: httpx.Request) -> httpx.Response:
        fake.routes[0] = ("POST", fake.routes[0][1], [tracker.create])
        raise httpx.ConnectError("refused before sending", request=request)

    fake.routes[0] = ("POST", fake.routes[0][1], [refuse_then_create])
    created = await reconciling.create_issue_once(FIELDS, external_id="story-9")
    assert created.key == "ED-1"
    assert len(tracker.issues) == 1
    # One search came back empty before the one re-send.
    assert len([s for s in fake.sent if s.path.endswith("/search/jql")]) == 1


async def test_other_issues_do_not_match(reconciling: JiraClient, tracker: Tracker) -> None:
    await reconciling.create_issue_once(FIELDS, external_id="story-1")
    found = await reconciling.find_created_issues("ED", {"story-2": "Export me"})
    assert found == {}
    assert tracker.searches == 1


async def test_a_site_that_lags_longer_can_be_polled(
    reconciling: JiraClient, tracker: Tracker, no_sleep: NoSleep
) -> None:
    tracker.lag = 8.0
    await reconciling.create_issue_once(FIELDS, external_id="story-1")
    no_sleep.waits.clear()
    policy = ReconcilePolicy(settle=5.0, attempts=3, delay=2.0)
    found = await reconciling.find_created_issues("ED", {"story-1": "Export me"}, policy=policy)
    assert found["story-1"].key == "ED-1"
    assert no_sleep.waits == [5.0, 2.0, 2.0]
    assert tracker.searches == 3


def test_reconcile_policy_refuses_nonsense() -> None:
    with pytest.raises(ValidationError):
        ReconcilePolicy(attempts=0)
    with pytest.raises(ValidationError):
        ReconcilePolicy(settle=-1)


async def test_create_once_needs_project_and_id(reconciling: JiraClient) -> None:
    with pytest.raises(ValidationError):
        await reconciling.create_issue_once(FIELDS, external_id="")
    with pytest.raises(ValidationError, match="project"):
        await reconciling.create_issue_once({"summary": "x"}, external_id="a")


async def test_bulk_create_chunks_at_50_and_maps_positions(
    cloud: JiraClient, fake: FakeJira, tracker: Tracker
) -> None:
    tracker.fail_positions = {3}
    items = [
        IssueInput(
            fields={**FIELDS, "summary": "bad 3" if n == 53 else f"s{n}"}, external_id=f"x{n}"
        )
        for n in range(120)
    ]
    results = await cloud.bulk_create(items)
    bulk_calls = [s for s in fake.sent if s.path.endswith("/issue/bulk")]
    assert [len(s.body["issueUpdates"]) for s in bulk_calls] == [50, 50, 20]
    assert [r.index for r in results] == list(range(120))
    failed = [r for r in results if not r.ok]
    assert [r.index for r in failed] == [53]
    assert failed[0].field_errors == {"summary": "rejected"}
    assert failed[0].status == 400
    # Each created issue is the one asked for at that position.
    by_key = {i["key"]: i for i in tracker.issues}
    for r in results:
        if r.ok:
            assert r.issue is not None
            stored = by_key[r.issue.key]
            assert stored["properties"][EXTERNAL_ID_PROPERTY] == {"externalId": f"x{r.index}"}


async def test_bulk_spec_example_answer_is_mapped(cloud: JiraClient, fake: FakeJira) -> None:
    example = spec_example("/rest/api/3/issue/bulk", "post", "201")
    fake.on("POST", "/rest/api/3/issue/bulk", httpx.Response(201, json=example))
    items = [
        IssueInput(fields=FIELDS) for _ in range(len(example["issues"]) + len(example["errors"]))
    ]
    results = await cloud.bulk_create(items)
    failed_positions = {e["failedElementNumber"] for e in example["errors"]}
    assert {r.index for r in results if not r.ok} == failed_positions
    assert [r.issue.key for r in results if r.issue] == [i["key"] for i in example["issues"]]


async def test_bulk_lost_answer_adopts_created_and_resends_nothing(
    reconciling: JiraClient, fake: FakeJira, tracker: Tracker
) -> None:
    tracker.drop_next = 1
    items = [
        IssueInput(fields={**FIELDS, "summary": f"s{n}"}, external_id=f"x{n}") for n in range(60)
    ]
    results = await reconciling.bulk_create(items)
    assert len(tracker.issues) == 60  # nothing duplicated
    assert all(r.ok for r in results)
    assert [r.issue.key for r in results if r.issue] == [f"ED-{n + 1}" for n in range(60)]
    bulk_calls = [s for s in fake.sent if s.path.endswith("/issue/bulk")]
    assert [len(s.body["issueUpdates"]) for s in bulk_calls] == [50, 10]


async def test_bulk_look_up_starts_after_the_newest_known_key(
    reconciling: JiraClient, fake: FakeJira, tracker: Tracker
) -> None:
    # The first chunk's answer arrives; the second one's is lost. Its look-up only asks for
    # issues after the first chunk's last key: one page, however many came before.
    def answer_then_drop(request: httpx.Request) -> httpx.Response:
        tracker.drop_next = 1
        return tracker.bulk(request)

    fake.routes[1] = ("POST", fake.routes[1][1], [tracker.bulk, answer_then_drop])
    items = [
        IssueInput(fields={**FIELDS, "summary": f"s{n}"}, external_id=f"x{n}") for n in range(60)
    ]
    results = await reconciling.bulk_create(items, after_keys={"ED": "ED-0"})
    assert all(r.ok for r in results)
    assert len(tracker.issues) == 60
    assert len(tracker.jqls) == 1
    assert 'key > "ED-50"' in tracker.jqls[0]
    assert tracker.jqls[0].endswith("ORDER BY key DESC")


async def test_bulk_failed_look_up_is_unknown_not_resent(
    reconciling: JiraClient, fake: FakeJira, tracker: Tracker
) -> None:
    tracker.drop_next = 1
    fake.routes[2] = ("POST", fake.routes[2][1], [httpx.Response(500, json={})])
    items = [
        IssueInput(fields={**FIELDS, "summary": f"s{n}"}, external_id=f"x{n}") for n in range(3)
    ]
    results = await reconciling.bulk_create(items)
    assert [r.unknown for r in results] == [True, True, True]
    assert "look-up failed" in results[0].error_messages[0]
    assert len([s for s in fake.sent if s.path.endswith("/issue/bulk")]) == 1
    assert len(tracker.issues) == 3


async def test_bulk_still_open_after_max_sends_is_unknown(
    reconciling: JiraClient, fake: FakeJira, tracker: Tracker
) -> None:
    busy = httpx.Response(503, json={"errorMessages": ["x"]})
    fake.routes[1] = ("POST", fake.routes[1][1], [busy])
    results = await reconciling.bulk_create(
        [IssueInput(fields=FIELDS, external_id="a")], policy=ReconcilePolicy(max_sends=2)
    )
    assert results[0].unknown
    assert results[0].status == 503
    assert len([s for s in fake.sent if s.path.endswith("/issue/bulk")]) == 2
    assert tracker.searches == 2


async def test_bulk_all_failed_in_item_shape_keeps_each_reason(
    cloud: JiraClient, fake: FakeJira
) -> None:
    answer = {
        "issues": [],
        "errors": [
            {
                "failedElementNumber": 0,
                "status": 400,
                "elementErrors": {"errors": {"summary": "x"}},
            },
            {
                "failedElementNumber": 1,
                "status": 400,
                "elementErrors": {"errors": {"project": "y"}},
            },
        ],
    }
    fake.on("POST", "/rest/api/3/issue/bulk", httpx.Response(400, json=answer))
    results = await cloud.bulk_create([IssueInput(fields=FIELDS), IssueInput(fields=FIELDS)])
    assert [r.field_errors for r in results] == [{"summary": "x"}, {"project": "y"}]
    assert len(fake.sent) == 1


async def test_bulk_auth_failure_raises(cloud: JiraClient, fake: FakeJira) -> None:
    fake.on("POST", "/rest/api/3/issue/bulk", httpx.Response(401, json={"errorMessages": ["no"]}))
    with pytest.raises(AuthenticationError):
        await cloud.bulk_create([IssueInput(fields=FIELDS)])


async def test_bulk_5xx_is_reconciled_before_any_resend(
    reconciling: JiraClient, fake: FakeJira, tracker: Tracker
) -> None:
    def apply_then_503(request: httpx.Request) -> httpx.Response:
        tracker.bulk(request)
        return httpx.Response(503, json={"errorMessages": ["busy"]})

    fake.routes[1] = ("POST", fake.routes[1][1], [apply_then_503, tracker.bulk])
    items = [
        IssueInput(fields={**FIELDS, "summary": f"s{n}"}, external_id=f"x{n}") for n in range(5)
    ]
    results = await reconciling.bulk_create(items)
    assert all(r.ok for r in results)
    assert len(tracker.issues) == 5
    assert len([s for s in fake.sent if s.path.endswith("/issue/bulk")]) == 1


async def test_bulk_all_failed_400_reports_each_item(cloud: JiraClient, fake: FakeJira) -> None:
    fake.on("POST", "/rest/api/3/issue/bulk", httpx.Response(400, json={"errorMessages": ["nope"]}))
    results = await cloud.bulk_create([IssueInput(fields=FIELDS), IssueInput(fields=FIELDS)])
    assert [r.ok for r in results] == [False, False]
    assert results[0].status == 400


async def test_reconcile_reads_the_property_where_search_returns_none(
    reconciling: JiraClient, fake: FakeJira, tracker: Tracker
) -> None:
    # Some Data Center versions ignore `properties` in search: candidates whose summary matches
    # are then checked with the consistent property read, others are not read at all.
    tracker.drop_next = 1
    fake.routes[2] = ("POST", fake.routes[2][1], [_search_without_properties(tracker)])

    def read_property(request: httpx.Request) -> httpx.Response:
        key = request.url.path.split("/")[5]
        issue = next(i for i in tracker.issues if i["key"] == key)
        value = issue["properties"][EXTERNAL_ID_PROPERTY]
        return httpx.Response(200, json={"key": EXTERNAL_ID_PROPERTY, "value": value})

    fake.on("GET", "/rest/api/3/issue/[^/]+/properties/jirabridge.external-id", read_property)
    tracker._store({"fields": {**FIELDS, "summary": "someone else's"}, "properties": []})
    created = await reconciling.create_issue_once(FIELDS, external_id="story-5")
    assert created.key == "ED-2"
    assert len(tracker.issues) == 2
    reads = [s.path for s in fake.sent if s.method == "GET"]
    assert reads == ["/rest/api/3/issue/ED-2/properties/jirabridge.external-id"]


def _search_without_properties(tracker: Tracker) -> Any:
    def search(request: httpx.Request) -> httpx.Response:
        issues = [
            {"id": i["id"], "key": i["key"], "fields": {"summary": i["fields"].get("summary")}}
            for i in tracker.issues
        ]
        return httpx.Response(200, json={"issues": issues, "isLast": True})

    return search
