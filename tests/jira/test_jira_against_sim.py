"""The client against the simulator (Cloud and Data Center flavours), end to end in process."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from jirabridge.http import FakeClock
from jirabridge.jira import (
    EXTERNAL_ID_PROPERTY,
    ConnectionVerdict,
    IssueInput,
    JiraClient,
    ReconcilePolicy,
)

sim_app = pytest.importorskip("jirabridge.sim.app", reason="the simulator has not landed yet")

BASE = "http://127.0.0.1"


class DropAfterApply(httpx.AsyncBaseTransport):
    """Forwards to the simulator; for chosen requests, lets the write happen and then loses
    the answer, as a dropped connection does."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.drop: list[tuple[str, str]] = []
        self.sent: list[tuple[str, str]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.sent.append((request.method, request.url.path))
        response = await self.inner.handle_async_request(request)
        key = (request.method, request.url.path)
        if key in self.drop:
            self.drop.remove(key)
            await response.aread()
            raise httpx.ReadError("connection dropped after the write", request=request)
        return response


@pytest.fixture(params=["cloud", "datacenter"])
def sim(request: pytest.FixtureRequest) -> Any:
    app = sim_app.create_sim_app(sim_app.SimConfig(seed=7, flavor=request.param, validate=True))
    return app


@pytest.fixture
def transport(sim: Any) -> DropAfterApply:
    return DropAfterApply(httpx.ASGITransport(app=sim))


@pytest.fixture
async def jira(sim: Any, transport: DropAfterApply) -> AsyncIterator[JiraClient]:
    runtime = sim.state.sim
    client = JiraClient(
        BASE,
        auth=httpx.BasicAuth(runtime.admin_email, runtime.admin_token),
        transport=transport,
        clock=FakeClock(),
    )
    client.reconcile_policy = ReconcilePolicy(attempts=3, delay=0.0)
    yield client
    await client.aclose()


async def _project_and_type(jira: JiraClient) -> tuple[str, str]:
    project = (await jira.projects())[0].key
    types = await jira.create_issue_types(project)
    story = next((t for t in types if t.name in ("Story", "Task")), types[0])
    return project, story.id


async def test_connection_verdicts(sim: Any, jira: JiraClient) -> None:
    check = await jira.test_connection()
    assert check.verdict is ConnectionVerdict.OK
    assert check.user is not None
    wrong = JiraClient(
        BASE,
        auth=httpx.BasicAuth(sim.state.sim.admin_email, "wrong"),
        transport=httpx.ASGITransport(app=sim),
    )
    async with wrong:
        assert (await wrong.test_connection()).verdict is ConnectionVerdict.BAD_CREDENTIALS


async def test_issue_lifecycle(jira: JiraClient) -> None:
    project, type_id = await _project_and_type(jira)
    created = await jira.create_issue(
        {"project": {"key": project}, "issuetype": {"id": type_id}, "summary": "Lifecycle"}
    )
    issue = await jira.get_issue(created.key)
    assert issue.summary == "Lifecycle"
    await jira.edit_issue(created.key, fields={"summary": "Renamed"})
    await jira.add_labels(created.key, "alpha", "beta")
    await jira.remove_labels(created.key, "alpha")
    issue = await jira.get_issue(created.key)
    assert issue.summary == "Renamed"
    assert issue.labels == ["beta"]
    comment = await jira.add_comment(created.key, "hello")
    assert [c.id for c in await jira.comments(created.key)] == [comment.id]
    transitions = await jira.transitions(created.key)
    assert transitions
    await jira.transition_issue(created.key, transitions[-1].id)
    moved = await jira.get_issue(created.key)
    assert moved.status is not None
    assert moved.status.name == transitions[-1].to.name if transitions[-1].to else True
    me = await jira.myself()
    await jira.assign_issue(created.key, me)
    assignee = (await jira.get_issue(created.key)).assignee
    assert assignee is not None
    assert assignee.identity == me.identity
    await jira.set_issue_property(created.key, "ours.k", {"v": 1})
    prop = await jira.get_issue_property(created.key, "ours.k")
    assert prop is not None
    assert prop.value == {"v": 1}
    await jira.delete_issue(created.key)
    assert await jira.get_issue_property(created.key, "ours.k") is None


async def test_search_streams_everything_and_counts(jira: JiraClient) -> None:
    project, _ = await _project_and_type(jira)
    jql = f"project = {project} ORDER BY key ASC"
    keys = [i.key async for i in jira.search(jql, page_size=7)]
    assert len(keys) == len(set(keys))
    assert len(keys) == await jira.approximate_count(f"project = {project}")
    ids_first = [i.key async for i in jira.search(jql, strategy="ids", bulkfetch_size=10)]
    assert ids_first == keys
    # Ids alone (Cloud: 5000 a page; Data Center: pages of issues with only their id).
    ids = [i async for i in jira.search_ids(jql)]
    assert ids == [i.id async for i in jira.search(jql)]
    assert len(ids) == len(keys)


async def test_bulk_create_maps_each_position(jira: JiraClient) -> None:
    project, type_id = await _project_and_type(jira)
    items = [
        IssueInput(
            fields={"project": {"key": project}, "issuetype": {"id": type_id}, "summary": f"b{n}"}
        )
        for n in range(55)
    ]
    items[52] = IssueInput(fields={"project": {"key": project}, "issuetype": {"id": type_id}})
    results = await jira.bulk_create(items)
    assert [r.index for r in results] == list(range(55))
    assert [r.index for r in results if not r.ok] == [52]
    for n in (0, 51, 54):
        issue_ref = results[n].issue
        assert issue_ref is not None
        assert (await jira.get_issue(issue_ref.key)).summary == f"b{n}"


async def test_create_once_survives_a_lost_answer(
    jira: JiraClient, transport: DropAfterApply
) -> None:
    project, type_id = await _project_and_type(jira)
    api = await jira.api_version()
    transport.drop.append(("POST", f"/rest/api/{api}/issue"))
    fields = {"project": {"key": project}, "issuetype": {"id": type_id}, "summary": "Once"}
    created = await jira.create_issue_once(fields, external_id="story-42")
    assert await jira.issue_external_id(created.key) == "story-42"
    matches = [i async for i in jira.search(f'project = {project} AND summary ~ "Once"')]
    assert [i.key for i in matches] == [created.key]
    assert transport.sent.count(("POST", f"/rest/api/{api}/issue")) == 1


async def test_bulk_lost_answer_does_not_duplicate(
    jira: JiraClient, transport: DropAfterApply
) -> None:
    project, type_id = await _project_and_type(jira)
    api = await jira.api_version()
    before = await jira.approximate_count(f"project = {project}")
    transport.drop.append(("POST", f"/rest/api/{api}/issue/bulk"))
    items = [
        IssueInput(
            fields={"project": {"key": project}, "issuetype": {"id": type_id}, "summary": f"x{n}"}
        )
        for n in range(12)
    ]
    results = await jira.bulk_create(items)
    assert all(r.ok for r in results)
    assert await jira.approximate_count(f"project = {project}") == before + 12


async def test_worklogs_exactly_once_and_lifecycle(
    jira: JiraClient, transport: DropAfterApply
) -> None:
    project, _ = await _project_and_type(jira)
    key = (await anext(jira.search(f"project = {project}", page_size=1))).key
    started = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
    api = await jira.api_version()
    transport.drop.append(("POST", f"/rest/api/{api}/issue/{key}/worklog"))
    worklog = await jira.add_worklog_once(
        key, external_id="rec-1", started=started, time_spent_seconds=1800, comment="pairing"
    )
    assert worklog.id
    window = [
        w
        async for w in jira.worklogs(
            key,
            started_after=started - timedelta(minutes=1),
            started_before=started + timedelta(minutes=1),
            expand_properties=True,
        )
    ]
    ours = [w for w in window if w.get_property(EXTERNAL_ID_PROPERTY) == {"externalId": "rec-1"}]
    assert [w.id for w in ours] == [worklog.id]
    assert ours[0].started == started
    updated = await jira.update_worklog(key, worklog.id or "", time_spent_seconds=3600)
    assert updated.time_spent_seconds == 3600
    assert [w.id for w in await jira.worklogs_by_ids([int(worklog.id or 0)])] == [worklog.id]
    await jira.delete_worklog(key, worklog.id or "")
    assert [w async for w in jira.worklogs(key, started_after=started - timedelta(minutes=1))] == []


async def test_agile_sprint_flow(jira: JiraClient) -> None:
    boards = [b async for b in jira.boards()]
    assert boards
    board = boards[0]
    sprints = [s async for s in jira.board_sprints(board.id)]
    start = datetime(2026, 11, 23, 9, tzinfo=UTC)
    sprint = await jira.create_sprint("Integration sprint", board_id=board.id, goal="prove it")
    assert sprint.id not in [s.id for s in sprints]
    project, _ = await _project_and_type(jira)
    keys = [i.key async for i in jira.search(f"project = {project} ORDER BY key", page_size=3)][:3]
    await jira.move_issues_to_sprint(sprint.id, keys)
    assert sorted([i.key async for i in jira.sprint_issues(sprint.id)]) == sorted(keys)
    active = [s async for s in jira.board_sprints(board.id, states=["active"])]
    for other in active:
        await jira.close_sprint(other.id)
    started = await jira.start_sprint(sprint.id, start=start, end=start + timedelta(days=14))
    assert started.state == "active"
    closed = await jira.close_sprint(sprint.id)
    assert closed.state == "closed"


async def test_metadata(jira: JiraClient) -> None:
    project, type_id = await _project_and_type(jira)
    fields = await jira.create_fields(project, type_id)
    assert any(f.field_id == "summary" and f.required for f in fields)
    assert any(f.id == "summary" for f in await jira.fields())
    info = await jira.server_info()
    assert info.version


@pytest.mark.parametrize(
    ("policy", "issues_made", "expected_waits"),
    [
        (ReconcilePolicy(settle=3.0), 1, [3.0]),
        (ReconcilePolicy(settle=0.0, attempts=3, delay=1.0), 1, [1.0, 1.0]),
        (ReconcilePolicy(settle=0.0), 2, []),
    ],
)
async def test_reconcile_waits_out_search_lag(
    policy: ReconcilePolicy, issues_made: int, expected_waits: list[float]
) -> None:
    """Search sees writes 2 s late. One look after the index settles finds our issue, as does
    polling 1 s apart from the start (third look); one immediate look misses it and re-sends,
    which is the duplicate the wait exists to prevent."""
    app = sim_app.create_sim_app(
        sim_app.SimConfig(seed=11, flavor="cloud", frozen_at=1_790_000_000.0, search_lag=(2.0, 2.0))
    )
    runtime = app.state.sim
    transport = DropAfterApply(httpx.ASGITransport(app=app))
    waits: list[float] = []

    async def sleep_on_sim_clock(seconds: float) -> None:
        waits.append(seconds)
        runtime.clock.advance(seconds)

    jira = JiraClient(
        BASE,
        auth=httpx.BasicAuth(runtime.admin_email, runtime.admin_token),
        transport=transport,
        clock=FakeClock(),
        sleep=sleep_on_sim_clock,
    )
    jira.reconcile_policy = policy
    async with jira:
        project, type_id = await _project_and_type(jira)
        transport.drop.append(("POST", "/rest/api/3/issue"))
        fields = {"project": {"key": project}, "issuetype": {"id": type_id}, "summary": "Lagged"}
        created = await jira.create_issue_once(fields, external_id="lag-1")
        runtime.clock.advance(10)  # let search catch up before counting
        made = [i async for i in jira.search(f'project = {project} AND summary ~ "Lagged"')]
    assert len(made) == issues_made
    assert created.key in [i.key for i in made]
    # The write_once backoff before a re-send is not a reconcile wait: count only those.
    assert waits[: len(expected_waits)] == expected_waits
