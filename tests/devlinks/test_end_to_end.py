"""Links and Smart Commits end to end: GitHub fixture payloads in, the simulator's Jira out."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from jirabridge.jira import JiraClient
from jirabridge.store.ledger import WriteLedger
from jirabridge.sync.devlinks.intake import DevLinkSettings, GitHubDelivery, handle_github_event

FIXTURES = Path(__file__).parents[1] / "fixtures" / "webhooks" / "github"
SETTINGS = DevLinkSettings(site="sim", projects=["DEMO"], comment_on=["opened", "merged"])


def payload(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text())  # type: ignore[no-any-return]


def pr_delivery(name: str, **changes: Any) -> GitHubDelivery:
    data = payload(name)
    pr = data["pull_request"]
    pr["head"]["ref"] = changes.pop("branch", pr["head"]["ref"])
    pr.update(changes)
    return GitHubDelivery("pull_request", "d-" + name, data)


def push_delivery(message: str, email: str, sha: str = "c" * 40) -> GitHubDelivery:
    data = payload("push.json")
    data["commits"] = [
        {
            "id": sha,
            "message": message,
            "timestamp": "2026-11-20T09:00:00Z",
            "url": f"https://github.com/Codertocat/Hello-World/commit/{sha}",
            "author": {"name": "Grace", "email": email},
        }
    ]
    return GitHubDelivery("push", "d-push", data)


async def test_pull_request_links_are_kept_current_and_never_doubled(
    jira: JiraClient, ledger: WriteLedger
) -> None:
    opened = pr_delivery(
        "pull_request.opened.json", title="DEMO-1 README update", branch="DEMO-2-readme"
    )
    first = await handle_github_event(opened, jira=jira, ledger=ledger, settings=SETTINGS)
    assert {link.issue_key for link in first.links} == {"DEMO-1", "DEMO-2"}
    assert {o.status for o in first.outcomes} == {"done"}

    # A redelivery changes nothing: links already read right, comments are in the ledger.
    again = await handle_github_event(opened, jira=jira, ledger=ledger, settings=SETTINGS)
    assert [o.status for o in again.outcomes] == []

    merged = pr_delivery(
        "pull_request.closed.json", title="DEMO-1 README update", branch="DEMO-2-readme"
    )
    merged.payload["pull_request"]["merged"] = True
    await handle_github_event(merged, jira=jira, ledger=ledger, settings=SETTINGS)

    for key in ("DEMO-1", "DEMO-2"):
        links = await jira.remote_links(key)
        assert len(links) == 1
        assert links[0].object["summary"] == "Pull request merged, branch DEMO-2-readme"
        texts = [json.dumps(c.body) for c in await jira.comments(key)]
        assert sum("Hello-World#2 opened" in t for t in texts) == 1
        assert sum("Hello-World#2 merged" in t for t in texts) == 1


async def test_smart_commit_comment_time_and_transition_once_per_sha(
    jira: JiraClient, ledger: WriteLedger
) -> None:
    users = await jira.search_users("@example.com")
    author = next(u for u in users if u.email_address and u.email_address != "admin@example.com")
    assert author.email_address is not None
    before = [w.id async for w in jira.worklogs("DEMO-3")]
    delivery = push_delivery(
        "DEMO-3 #comment README reviewed #time 1h 30m pairing #in-progress",
        author.email_address.upper(),
    )
    result = await handle_github_event(delivery, jira=jira, ledger=ledger, settings=SETTINGS)
    assert result.errors == {}
    assert [(o.kind, o.status) for o in result.outcomes] == [
        ("smart_comment", "done"),
        ("smart_worklog", "done"),
        ("smart_transition", "done"),
    ]
    again = await handle_github_event(delivery, jira=jira, ledger=ledger, settings=SETTINGS)
    assert again.outcomes == []

    added = [w async for w in jira.worklogs("DEMO-3") if w.id not in before]
    assert [w.time_spent_seconds for w in added] == [5400]
    issue = await jira.get_issue("DEMO-3")
    assert issue.fields["status"]["name"] == "In Progress"
    comments = [json.dumps(c.body) for c in await jira.comments("DEMO-3")]
    assert sum("README reviewed" in t for t in comments) == 1


async def test_an_unknown_author_gets_a_clear_error_and_nothing_is_written(
    jira: JiraClient, ledger: WriteLedger
) -> None:
    delivery = push_delivery("DEMO-4 #comment hello", "stranger@elsewhere.test", sha="d" * 40)
    result = await handle_github_event(delivery, jira=jira, ledger=ledger, settings=SETTINGS)
    assert result.errors == {
        "d" * 40: [
            "the commit author stranger@elsewhere.test matches no Jira user; "
            "Smart Commits need exactly one"
        ]
    }
    assert result.outcomes == []
    assert await jira.comments("DEMO-4") == []


async def test_replaying_history_never_transitions(jira: JiraClient, ledger: WriteLedger) -> None:
    users = await jira.search_users("@example.com")
    author = next(u for u in users if u.email_address != "admin@example.com")
    replay = DevLinkSettings(site="sim", projects=["DEMO"], allow_transitions=False)
    delivery = push_delivery("DEMO-2 #done", author.email_address or "", sha="e" * 40)
    before = (await jira.get_issue("DEMO-2")).fields["status"]
    result = await handle_github_event(delivery, jira=jira, ledger=ledger, settings=replay)
    assert result.outcomes == []
    assert (await jira.get_issue("DEMO-2")).fields["status"] == before
