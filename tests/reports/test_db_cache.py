"""The report cache in the database (SQLite and PostgreSQL): shared by loaders as if on other
hosts, refreshed in part, and rid of issues deleted in Jira."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette

from jirabridge.jira import JiraClient
from jirabridge.sim import issues as ops
from jirabridge.sim.app import SimRuntime
from jirabridge.store.db import session_factory
from jirabridge.store.report_cache import CachedIssue, ReportCacheStore
from jirabridge.store.report_cache_models import ReportCacheIssueRow
from jirabridge.sync.reports.board import board_report
from jirabridge.sync.reports.history import FieldIds
from jirabridge.sync.reports.source import (
    DatabaseReportCache,
    MemoryReportCache,
    ReportCache,
    SprintDataLoader,
)

from support.report_scenario import AS_OF, DONE, CountingTransport, sim_jira


def _db_loader(
    engine: AsyncEngine, jira: JiraClient, clock: Callable[[], datetime] = lambda: AS_OF
) -> SprintDataLoader:
    """A loader with its own cache object on the shared database, as another host has."""
    cache = DatabaseReportCache(ReportCacheStore(session_factory(engine)))
    return SprintDataLoader(jira, cache, site="c-1", clock=clock)


async def _issue_rows(engine: AsyncEngine) -> dict[str, ReportCacheIssueRow]:
    async with session_factory(engine)() as session:
        rows = await session.scalars(select(ReportCacheIssueRow))
        return {r.issue_key: r for r in rows}


async def test_a_second_host_finds_the_cache_warm(
    engine: AsyncEngine, sim_app: Starlette, rpt_board: int
) -> None:
    counting = CountingTransport(sim_app)
    async with sim_jira(sim_app, counting) as jira:
        host_a = _db_loader(engine, jira)
        cold = await host_a.load(rpt_board)
        counting.calls.clear()
        # Another process (its own store object, same database): nothing is fetched again.
        host_b = _db_loader(engine, jira)
        warm = await host_b.load(rpt_board)
    assert cold.fetched_issues == 9
    assert warm.fetched_issues == 0
    assert sum(counting.calls.values()) == 3  # sprint list, incremental search, ids check
    assert sorted(await _issue_rows(engine)) == [f"RPT-{n}" for n in range(1, 10)]
    a = board_report(rpt_board, warm.sprints, warm.histories, as_of=AS_OF, zone=UTC).sprints[0]
    assert (a.committed_points, a.completed_points) == (21, 16)
    # Another site's cache of the same board id is another cache.
    other = await DatabaseReportCache(ReportCacheStore(session_factory(engine))).get(
        "c-2", rpt_board
    )
    assert other is None


async def test_refresh_writes_only_what_changed(
    engine: AsyncEngine, sim_app: Starlette, rpt_board: int, jira: JiraClient
) -> None:
    runtime: SimRuntime = sim_app.state.sim
    now = [AS_OF]
    loader = _db_loader(engine, jira, lambda: now[0])
    await loader.load(rpt_board)
    before = {k: r.id for k, r in (await _issue_rows(engine)).items()}
    issue = runtime.site.get_issue("RPT-5")
    lead = next(iter(runtime.site.projects.values())).lead
    runtime.clock.advance(60)
    ops.set_status(runtime.site, issue, DONE, lead, at_ms=runtime.site.now_ms())
    now[0] = AS_OF + timedelta(minutes=1)
    second = await loader.load(rpt_board)
    assert second.fetched_issues == 1
    rows = await _issue_rows(engine)
    assert {k: r.id for k, r in rows.items()} == before  # updated in place, none rewritten
    assert rows["RPT-5"].raw["fields"]["status"]["id"] == DONE
    assert rows["RPT-5"].jira_updated is not None
    assert rows["RPT-5"].jira_updated > AS_OF


@pytest.mark.parametrize("where", ["memory", "database"])
async def test_deleted_issue_drops_out_of_the_cache(
    where: str, engine: AsyncEngine, sim_app: Starlette, rpt_board: int, jira: JiraClient
) -> None:
    runtime: SimRuntime = sim_app.state.sim
    cache: ReportCache = (
        MemoryReportCache()
        if where == "memory"
        else DatabaseReportCache(ReportCacheStore(session_factory(engine)))
    )
    now = [AS_OF]
    loader = SprintDataLoader(jira, cache, site="c-1", clock=lambda: now[0])
    first = await loader.load(rpt_board)
    assert "RPT-7" in {h.key for h in first.histories}
    lead = next(iter(runtime.site.projects.values())).lead
    runtime.clock.advance(60)
    ops.delete_issue(runtime.site, runtime.site.get_issue("RPT-7"), lead, delete_subtasks=False)
    now[0] = AS_OF + timedelta(minutes=1)
    second = await loader.load(rpt_board)
    assert second.dropped_issues == 1
    assert "RPT-7" not in {h.key for h in second.histories}
    a = board_report(rpt_board, second.sprints, second.histories, as_of=now[0], zone=UTC).sprints[0]
    assert a.completed_points == 11  # 16 without RPT-7's 5
    cached = await cache.get("c-1", rpt_board)
    assert cached is not None
    assert "RPT-7" not in cached.issues
    if where == "database":
        assert "RPT-7" not in await _issue_rows(engine)


async def test_changed_fields_replace_the_cache(
    engine: AsyncEngine, sim_app: Starlette, rpt_board: int, jira: JiraClient
) -> None:
    cache = DatabaseReportCache(ReportCacheStore(session_factory(engine)))
    await SprintDataLoader(jira, cache, site="c-1", clock=lambda: AS_OF).load(rpt_board)
    other = FieldIds(points="customfield_10099", sprint="customfield_10020")
    data = await SprintDataLoader(
        jira, cache, site="c-1", field_ids=other, clock=lambda: AS_OF
    ).load(rpt_board)
    assert data.fetched_issues == 9  # all of them again, with the other field
    stored = await cache.get("c-1", rpt_board)
    assert stored is not None
    assert stored.field_ids == other
    assert len(await _issue_rows(engine)) == 9


async def test_an_older_copy_never_replaces_a_newer_one(engine: AsyncEngine) -> None:
    store = ReportCacheStore(session_factory(engine))
    t1 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
    t2 = t1 + timedelta(minutes=5)
    await store.save("s", 1, {"board_id": 1}, upsert=[CachedIssue("A-1", "10", t2, {"v": 2})])
    # A slower host saves the copy it read before the change: ignored for that issue.
    await store.save(
        "s",
        1,
        {"board_id": 1},
        upsert=[CachedIssue("A-1", "10", t1, {"v": 1}), CachedIssue("A-2", "11", t1, {"v": 1})],
    )
    loaded = await store.load("s", 1)
    assert loaded is not None
    assert {i.key: i.raw for i in loaded.issues} == {"A-1": {"v": 2}, "A-2": {"v": 1}}
    await store.save("s", 1, {"board_id": 1}, drop=["A-1"])
    loaded = await store.load("s", 1)
    assert loaded is not None
    assert [i.key for i in loaded.issues] == ["A-2"]
    assert await store.forget("s", 1)
    assert await store.load("s", 1) is None
    async with session_factory(engine)() as session:
        assert await session.scalar(select(func.count()).select_from(ReportCacheIssueRow)) == 0
