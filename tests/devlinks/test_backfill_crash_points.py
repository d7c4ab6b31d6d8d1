"""Crash points of a devlinks backfill: the process stops before or after each write (remote
link, history comment, smart-commit worklog, their ledger steps, the cursor); resuming from
the saved cursor ends with one link per issue, one history comment and one worklog."""

from __future__ import annotations

import json

import pytest

from github.conftest import FakeGitHub
from jirabridge.github import GitHubClient
from jirabridge.jira import JiraClient
from jirabridge.store.ledger import WriteLedger
from jirabridge.sync.devlinks.backfill import MemoryCursorStore, backfill_repositories

from .test_backfill import NOW, SETTINGS, fake, gh  # noqa: F401 - fixtures
from support.crash_points import CrashPoint, ProcessDied, crash_at

POINTS = [
    CrashPoint("jira", "add_remote_link", "after"),
    CrashPoint("ledger", "record_intent", "after"),
    CrashPoint("ledger", "mark_sent", "after"),
    CrashPoint("jira", "add_comment", "after"),  # the comment landed; the answer died
    CrashPoint("ledger", "confirm", "before"),
    CrashPoint("jira", "add_worklog_once", "after"),
    CrashPoint("cursors", "save", "before"),  # the first pull request done, not recorded
    CrashPoint("cursors", "save", "before", nth=2),
]


@pytest.mark.parametrize("point", POINTS, ids=str)
async def test_a_backfill_stopped_at_any_step_resumes_without_repeats(
    fake: FakeGitHub,  # noqa: F811 - the fixture
    gh: GitHubClient,  # noqa: F811 - the fixture
    jira: JiraClient,
    ledger: WriteLedger,
    point: CrashPoint,
) -> None:
    users = await jira.search_users("@example.com")
    email = next(u.email_address for u in users if u.email_address != "admin@example.com")
    fake.add_pull("DEMO-1 first", "feature/DEMO-1", ["DEMO-1 #comment history"])
    fake.add_pull("Second", "DEMO-2-fix", ["DEMO-2 #time 2h replayed"])
    for commits in fake.pull_commits.values():
        for c in commits:
            c["commit"]["author"]["email"] = email
    worklogs_before = [w.id async for w in jira.worklogs("DEMO-2")]
    cursors = MemoryCursorStore()  # stands for the database table: it outlives the process
    target = {"jira": jira, "ledger": ledger, "cursors": cursors}[point.owner]

    async def backfill() -> None:
        report = await backfill_repositories(
            ["octo/hello"],
            months=3,
            github=gh,
            jira=jira,
            ledger=ledger,
            settings=SETTINGS,
            cursors=cursors,
            clock=lambda: NOW,
        )
        assert report.failed == [], report

    with crash_at(target, point), pytest.raises(ProcessDied):
        await backfill()
    await backfill()

    assert cursors.cursors["octo/hello"].done
    for key in ("DEMO-1", "DEMO-2"):
        assert len(await jira.remote_links(key)) == 1, key
    texts = [json.dumps(c.body) for c in await jira.comments("DEMO-1")]
    assert sum("history" in t for t in texts) == 1
    added = [w async for w in jira.worklogs("DEMO-2") if w.id not in worklogs_before]
    assert [w.time_spent_seconds for w in added] == [7200]
