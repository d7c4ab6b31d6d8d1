"""Backfill over the GitHub double into the simulator: progress, resume, failing repos."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from github.conftest import TOKEN, FakeGitHub
from jirabridge.errors import StorageError
from jirabridge.github import GitHubClient
from jirabridge.http import FakeClock
from jirabridge.jira import JiraClient
from jirabridge.store.ledger import WriteLedger
from jirabridge.sync.devlinks.backfill import (
    BackfillCursor,
    BackfillProgress,
    MemoryCursorStore,
    backfill_repositories,
    estimate_eta,
)
from jirabridge.sync.devlinks.intake import DevLinkSettings

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)
SETTINGS = DevLinkSettings(site="sim", projects=["DEMO"], comment_on=["opened", "merged"])


@pytest.fixture
def fake() -> FakeGitHub:
    return FakeGitHub()


@pytest.fixture
async def gh(fake: FakeGitHub) -> AsyncIterator[GitHubClient]:
    async with GitHubClient(token=TOKEN, transport=fake.transport(), clock=FakeClock()) as client:
        yield client


class CrashingStore(MemoryCursorStore):
    """Saves ``allowed`` cursors, then fails as a crashed process would."""

    def __init__(self, allowed: int) -> None:
        super().__init__()
        self.allowed = allowed

    async def save(self, cursor: BackfillCursor) -> None:
        if self.allowed == 0:
            raise StorageError("the process died")
        self.allowed -= 1
        await super().save(cursor)


def test_eta() -> None:
    assert estimate_eta(0, 10, 5.0) is None
    assert estimate_eta(2, 10, 4.0) == 16.0
    assert estimate_eta(10, 10, 4.0) == 0.0


async def test_backfill_links_history_resumes_and_never_transitions(
    fake: FakeGitHub, gh: GitHubClient, jira: JiraClient, ledger: WriteLedger
) -> None:
    users = await jira.search_users("@example.com")
    email = next(u.email_address for u in users if u.email_address != "admin@example.com")
    fake.add_pull("DEMO-1 first", "feature/DEMO-1", ["DEMO-1 #comment history #in-progress"])
    fake.add_pull("Second", "DEMO-2-fix", ["DEMO-2 #time 2h replayed"])
    fake.add_pull("Third, no keys", "chore", ["tidy"])
    for commits in fake.pull_commits.values():
        for c in commits:
            c["commit"]["author"]["email"] = email
    status_before = (await jira.get_issue("DEMO-1")).fields["status"]
    worklogs_before = [w.id async for w in jira.worklogs("DEMO-2")]

    crashing = CrashingStore(allowed=1)
    first = await backfill_repositories(
        ["octo/hello"],
        months=3,
        github=gh,
        jira=jira,
        ledger=ledger,
        settings=SETTINGS,
        cursors=crashing,
        clock=lambda: NOW,
    )
    assert first.repos[0].status == "failed"
    assert first.repos[0].processed == 1

    store = MemoryCursorStore(dict(crashing.cursors))
    seen: list[BackfillProgress] = []
    second = await backfill_repositories(
        ["octo/hello", "octo/missing"],
        months=3,
        github=gh,
        jira=jira,
        ledger=ledger,
        settings=SETTINGS,
        cursors=store,
        clock=lambda: NOW,
        on_progress=seen.append,
    )
    hello, missing = second.repos
    assert (hello.status, hello.processed) == ("done", 3)
    assert missing.status == "failed"
    assert missing.error
    assert [(p.processed, p.total) for p in seen] == [(2, 3), (3, 3)]
    assert seen[-1].eta_seconds == 0.0
    assert store.cursors["octo/hello"].done

    # Resumed, not restarted: each issue has one link and one history comment.
    for key in ("DEMO-1", "DEMO-2"):
        assert len(await jira.remote_links(key)) == 1
    texts = [json.dumps(c.body) for c in await jira.comments("DEMO-1")]
    assert sum("history" in t for t in texts) == 1
    assert (await jira.get_issue("DEMO-1")).fields["status"] == status_before
    added = [w async for w in jira.worklogs("DEMO-2") if w.id not in worklogs_before]
    assert [w.time_spent_seconds for w in added] == [7200]
