"""Crash points of a stories export: the process stops before or after each step (ledger
intent, marked sent, bulk create applied with its answer lost, confirmed, an update sent);
exporting again from a fresh plan ends with every item in Jira exactly once, epics linked.
Cloud and Data Center, SQLite and PostgreSQL.
"""

from __future__ import annotations

import pytest

from jirabridge.store.ledger import WriteLedger
from jirabridge.sync.stories import apply_export, parse_stories, plan_export

from .conftest import Site
from .test_export_sim import SITE, export, many
from support.crash_points import CrashPoint, ProcessDied, crash_at

# Two epics of three stories, bulk chunks of two: every level has several chunks.
STORIES = many(2, 3)
ITEMS = 2 + 6

CREATE_POINTS = [
    CrashPoint("ledger", "record_intent", "after"),
    CrashPoint("ledger", "record_intent", "after", nth=ITEMS),
    CrashPoint("ledger", "mark_sent", "after"),
    CrashPoint("jira", "bulk_create", "before"),
    CrashPoint("jira", "bulk_create", "after"),  # the epics applied, the answer lost
    CrashPoint("jira", "bulk_create", "after", nth=3),  # a story chunk applied, answer lost
    CrashPoint("ledger", "confirm", "before", nth=2),
    CrashPoint("ledger", "confirm", "after", nth=5),
]


@pytest.mark.parametrize("point", CREATE_POINTS, ids=str)
async def test_an_export_stopped_at_any_step_finishes_with_each_item_once(
    site: Site, ledger: WriteLedger, point: CrashPoint
) -> None:
    stories = parse_stories(STORIES, "yaml")
    plan = plan_export(stories, site.profile)
    target = ledger if point.owner == "ledger" else site.jira
    with crash_at(target, point), pytest.raises(ProcessDied):
        await apply_export(plan, jira=site.jira, ledger=ledger, site=SITE, chunk_size=2)

    result = await export(site, ledger, stories)

    assert result.ok, result.results
    assert len(result.results) == ITEMS
    stamped = site.stamped()
    assert len(stamped) == ITEMS
    assert [k for k, keys in stamped.items() if len(keys) > 1] == []
    again = await export(site, ledger, stories)
    assert again.counts() == {"unchanged": ITEMS}


UPDATE_POINTS = [
    CrashPoint("ledger", "mark_sent", "after"),
    CrashPoint("jira", "edit_issue", "after"),
    CrashPoint("ledger", "confirm", "before"),
]


@pytest.mark.parametrize("point", UPDATE_POINTS, ids=str)
async def test_a_reexport_stopped_at_any_step_updates_in_place(
    site: Site, ledger: WriteLedger, point: CrashPoint
) -> None:
    first = await export(site, ledger, parse_stories(STORIES, "yaml"))
    before = len(site.runtime.site.issues)
    edited = parse_stories(STORIES.replace("Story 0-1", "Story 0-1, edited"), "yaml")
    target = ledger if point.owner == "ledger" else site.jira
    with crash_at(target, point), pytest.raises(ProcessDied):
        await export(site, ledger, edited)

    result = await export(site, ledger, edited)

    assert result.ok
    assert len(site.runtime.site.issues) == before
    key = next(r.key for r in first.results if r.item_id == "S0-1")
    assert (await site.jira.get_issue(key or "")).summary == "Story 0-1, edited"
    assert (await export(site, ledger, edited)).counts() == {"unchanged": ITEMS}
