"""The loader against the simulator: what it asks Jira for, cold and warm, and what it caches."""

from __future__ import annotations

import json
from datetime import UTC, timedelta
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette

from jirabridge.errors import NotFoundError, ValidationError
from jirabridge.jira import JiraClient
from jirabridge.sim import issues as ops
from jirabridge.sim.app import SimRuntime
from jirabridge.sync.reports.board import board_report
from jirabridge.sync.reports.history import FieldIds, detect_field_ids
from jirabridge.sync.reports.source import (
    FileReportCache,
    MemoryReportCache,
    ReportCache,
    SprintDataLoader,
)

from support.report_scenario import AS_OF, DONE, CountingTransport, ms, sim_jira


async def test_cold_load_asks_once_warm_load_refetches_nothing(
    sim_app: Starlette, rpt_board: int
) -> None:
    counting = CountingTransport(sim_app)
    cache = MemoryReportCache()
    async with sim_jira(sim_app, counting) as jira:
        loader = SprintDataLoader(jira, cache, site="sim", clock=lambda: AS_OF)
        cold = await loader.load(rpt_board)
        assert cold.fetched_issues == 9  # RPT-1..9, every issue that touched sprint A or B
        cold_calls = sum(counting.calls.values())
        assert counting.calls["POST /rest/api/3/search/jql"] == 1  # changelogs came along
        assert not any("/changelog" in path for path in counting.calls)
        counting.calls.clear()
        warm = await loader.load(rpt_board)
    assert warm.fetched_issues == 0
    # Warm: the sprint list, one empty incremental search and one ids-only search that tells
    # deleted issues; no statuses, fields, board or bulkfetch.
    assert dict(counting.calls) == {
        f"GET /rest/agile/1.0/board/{rpt_board}/sprint": 1,
        "POST /rest/api/3/search/jql": 2,
    }
    assert sum(counting.calls.values()) < cold_calls
    assert {h.key for h in warm.histories} == {h.key for h in cold.histories}


async def test_incremental_load_picks_up_a_change(
    sim_app: Starlette, rpt_board: int, jira: JiraClient
) -> None:
    runtime: SimRuntime = sim_app.state.sim
    now = [AS_OF]
    loader = SprintDataLoader(jira, MemoryReportCache(), site="sim", clock=lambda: now[0])
    first = await loader.load(rpt_board)
    report = board_report(rpt_board, first.sprints, first.histories, as_of=AS_OF, zone=UTC)
    assert report.cycle_time.skipped == ["RPT-9"]
    # RPT-5 (never started, in the backlog) gets done later: the warm load must see it.
    issue = runtime.site.get_issue("RPT-5")
    lead = next(iter(runtime.site.projects.values())).lead
    runtime.clock.advance(60)
    ops.set_status(runtime.site, issue, DONE, lead, at_ms=runtime.site.now_ms())
    now[0] = AS_OF + timedelta(minutes=1)
    second = await loader.load(rpt_board)
    assert second.fetched_issues == 1
    rpt5 = next(h for h in second.histories if h.key == "RPT-5")
    assert rpt5.done(AS_OF + timedelta(minutes=2))


async def test_file_cache_survives_a_new_loader(
    sim_app: Starlette, rpt_board: int, tmp_path: Path
) -> None:
    counting = CountingTransport(sim_app)
    async with sim_jira(sim_app, counting) as jira:
        await SprintDataLoader(
            jira, FileReportCache(tmp_path), site="http://sim.test", clock=lambda: AS_OF
        ).load(rpt_board)
        counting.calls.clear()
        data = await SprintDataLoader(
            jira, FileReportCache(tmp_path), site="http://sim.test", clock=lambda: AS_OF
        ).load(rpt_board)
    assert data.fetched_issues == 0
    assert len(data.histories) == 9
    assert next(iter(tmp_path.iterdir())).name == f"http_sim.test-board-{rpt_board}.json"


async def test_unreadable_cache_file_is_a_cold_load(tmp_path: Path) -> None:
    cache: ReportCache = FileReportCache(tmp_path)
    (tmp_path / "s-board-3.json").write_text("{not json", encoding="utf-8")
    assert await cache.get("s", 3) is None


class TruncatingChangelogs(CountingTransport):
    """Jira embeds only the newest changelog entries in a search; the simulator sends them all.

    This keeps the newest ``keep`` entries of each searched issue (and the true ``total``), as
    Jira does, so the loader must read the rest from the issue's own changelog.
    """

    def __init__(self, app: Starlette, keep: int) -> None:
        super().__init__(app)
        self.keep = keep

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await super().handle_async_request(request)
        if not request.url.path.endswith("/search/jql"):
            return response
        body = json.loads(await response.aread())
        for issue in body.get("issues", []):
            log = issue.get("changelog")
            if log and len(log["histories"]) > self.keep:
                log["histories"] = log["histories"][-self.keep :]
                log["maxResults"] = self.keep
        return httpx.Response(response.status_code, json=body, request=request)


async def test_long_changelog_is_fetched_in_full(sim_app: Starlette, rpt_board: int) -> None:
    site = sim_app.state.sim.site
    issue = site.get_issue("RPT-5")
    lead = next(iter(site.projects.values())).lead
    for n in range(130):  # two pages of the issue's changelog at 100 a page
        ops.edit_issue(
            site,
            issue,
            {"fields": {"customfield_10016": 13 if n % 2 == 0 else 8}},
            "2",
            lead,
            at_ms=ms("11-17 09:00") + n * 1000,
        )
    transport = TruncatingChangelogs(sim_app, keep=20)
    async with sim_jira(sim_app, transport) as client:
        data = await SprintDataLoader(
            client, MemoryReportCache(), site="sim", clock=lambda: AS_OF
        ).load(rpt_board)
    assert transport.calls["GET /rest/api/3/issue/RPT-5/changelog"] == 2
    rpt5 = next(h for h in data.histories if h.key == "RPT-5")
    # 8 points all through sprint A: only the full changelog knows (the newest 20 say 13 -> 8).
    assert rpt5.points.initial == 8
    assert len(rpt5.points.changes) == 130
    a = board_report(rpt_board, data.sprints, data.histories, as_of=AS_OF, zone=UTC).sprints[0]
    assert a.committed_points == 21


async def test_unknown_board_and_sprint(loader: SprintDataLoader, rpt_board: int) -> None:
    with pytest.raises(NotFoundError):
        await loader.load(9999)
    with pytest.raises(NotFoundError, match="sprint 4242"):
        await loader.load(rpt_board, sprint_ids=[4242])
    with pytest.raises(ValidationError):
        await loader.load(rpt_board, last=0)


async def test_fields_are_detected_from_the_site(jira: JiraClient) -> None:
    fields = [f.model_dump(by_alias=True) for f in await jira.fields()]
    assert detect_field_ids(fields) == FieldIds("customfield_10016", "customfield_10020")


def test_field_detection_prefers_story_point_estimate() -> None:
    fields = [
        {"id": "customfield_10002", "name": "Story Points", "custom": True},
        {"id": "customfield_10016", "name": "Story point estimate", "custom": True},
        {
            "id": "customfield_10100",
            "name": "Sprint",
            "custom": True,
            "schema": {"custom": "com.pyxis.greenhopper.jira:gh-sprint"},
        },
    ]
    assert detect_field_ids(fields) == FieldIds("customfield_10016", "customfield_10100")
    legacy = [{"id": "customfield_10002", "name": "Story Points", "custom": True}]
    assert detect_field_ids(legacy).points == "customfield_10002"
    assert detect_field_ids([]) == FieldIds()
