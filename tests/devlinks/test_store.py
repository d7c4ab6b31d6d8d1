"""Links, Smart Commit results, cursors and the triage log are kept per owner."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from devlinks.conftest import make_owner
from jirabridge.jira import JiraClient
from jirabridge.store.db import session_factory
from jirabridge.store.devlinks import DevLinkStore
from jirabridge.store.ledger import WriteLedger
from jirabridge.sync.devlinks.backfill import BackfillCursor, DbCursorStore
from jirabridge.sync.devlinks.intake import DevLinkSettings, GitHubDelivery, handle_github_event

FIXTURES = Path(__file__).parents[1] / "fixtures" / "webhooks" / "github"
SETTINGS = DevLinkSettings(site="sim", projects=["DEMO"])


async def test_deliveries_are_recorded_for_their_owner_only(
    engine: AsyncEngine, jira: JiraClient, ledger: WriteLedger
) -> None:
    sessions = session_factory(engine)
    mine = DevLinkStore(sessions, await make_owner(engine, "user", "alice"))
    theirs = DevLinkStore(sessions, await make_owner(engine, "team", "other"))

    pr_payload = json.loads((FIXTURES / "pull_request.opened.json").read_text())
    pr_payload["pull_request"]["title"] = "DEMO-1 docs"
    pr = GitHubDelivery("pull_request", "d1", pr_payload)
    await handle_github_event(pr, jira=jira, ledger=ledger, settings=SETTINGS, store=mine)
    await handle_github_event(pr, jira=jira, ledger=ledger, settings=SETTINGS, store=mine)

    push = json.loads((FIXTURES / "push.json").read_text())
    push["commits"] = [
        {
            "id": "f" * 40,
            "message": "DEMO-1 #comment from a stranger",
            "timestamp": "2026-11-20T09:00:00Z",
            "url": "https://github.com/Codertocat/Hello-World/commit/fff",
            "author": {"name": "X", "email": "x@nowhere.test"},
        }
    ]
    delivery = GitHubDelivery("push", "d2", push)
    await handle_github_event(delivery, jira=jira, ledger=ledger, settings=SETTINGS, store=mine)

    links = await mine.links(issue_key="DEMO-1")
    assert [(link.kind, link.ref, link.found_in) for link in links] == [
        ("commit", "f" * 40, ("commit_message",)),
        ("pull_request", "2", ("title",)),
    ]
    assert links[1].state == "open"
    assert len(await mine.links(repo="Codertocat/Hello-World")) == 2
    results = await mine.smart_results("f" * 40)
    assert [(r.kind, r.status) for r in results] == [("error", "failed")]
    assert "no Jira user" in (results[0].detail or "")

    assert await theirs.links() == []
    assert await theirs.smart_results() == []

    cursors = DbCursorStore(mine)
    await cursors.save(BackfillCursor("o/r", last_number=7, processed=3, total=9))
    assert await cursors.load("o/r") == BackfillCursor("o/r", 7, 3, 9, False)
    assert await DbCursorStore(theirs).load("o/r") is None

    await mine.log_triage("jira", [("DEMO-1", "rule", "assign", "acc", "done", "")])
    assert [(e.bug_ref, e.status) for e in await mine.triage_log()] == [("DEMO-1", "done")]
    assert await theirs.triage_log() == []


async def test_the_triage_log_is_read_per_connection_within_its_owner(
    engine: AsyncEngine,
) -> None:
    sessions = session_factory(engine)
    team = DevLinkStore(sessions, await make_owner(engine, "team", "core"))
    other = DevLinkStore(sessions, await make_owner(engine, "team", "web"))
    await team.log_triage("github", [("o/r#1", "a", "assign", "x", "done", "")], connection_id="c1")
    await team.log_triage("github", [("o/r#2", "b", "assign", "y", "done", "")], connection_id="c2")
    await team.log_triage("jira", [("DEMO-3", "c", "assign", "z", "done", "")])
    assert [e.bug_ref for e in await team.triage_log(connection_id="c1")] == ["o/r#1"]
    assert [e.bug_ref for e in await team.triage_log()] == ["DEMO-3", "o/r#2", "o/r#1"]
    # Another owner sees nothing of it, even naming the connection.
    assert await other.triage_log(connection_id="c1") == []
