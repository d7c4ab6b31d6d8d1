"""Triage end to end: a Jira bug in the simulator and a GitHub bug in the GitHub double."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from devlinks.conftest import make_owner
from github.conftest import TOKEN, FakeGitHub  # the shared stateful GitHub double
from jirabridge.github import GitHubClient
from jirabridge.http import FakeClock
from jirabridge.jira import JiraClient
from jirabridge.store.db import session_factory
from jirabridge.store.devlinks import DevLinkStore
from jirabridge.store.ledger import WriteLedger
from jirabridge.sync.triage import (
    apply_triage_plan,
    bug_from_github_issue,
    bug_from_jira_issue,
    count_open_work,
    load_rules,
    plan_triage,
    triage_event,
)

FIXTURES = Path(__file__).parents[1] / "fixtures" / "webhooks"


@pytest.fixture
def fake() -> FakeGitHub:
    return FakeGitHub()


@pytest.fixture
async def gh(fake: FakeGitHub) -> AsyncIterator[GitHubClient]:
    async with GitHubClient(token=TOKEN, transport=fake.transport(), clock=FakeClock()) as client:
        yield client


async def test_a_new_jira_bug_is_assigned_labelled_prioritised_and_commented_once(
    jira: JiraClient, ledger: WriteLedger
) -> None:
    users = [u for u in await jira.search_users("@example.com") if u.account_id]
    ada, bob = users[1].account_id, users[2].account_id
    assert ada is not None
    assert bob is not None
    created = await jira.create_issue(
        {
            "project": {"key": "DEMO"},
            "issuetype": {"name": "Bug"},
            "summary": "Export crashes on empty sprint",
        }
    )
    rules = load_rules(
        f"""\
teams:
  backend: [{ada}, {bob}]
rules:
  - name: crashes
    match: {{keywords: [crash], source: jira}}
    actions:
      assign: {{team: backend}}
      add_labels: [triaged]
      priority: High
      comment: Routed by triage.
"""
    )
    workload = await count_open_work(rules.teams["backend"], jira=jira, github=None)
    payload = json.loads((FIXTURES / "jira" / "mattermost-webhook-issue-created.json").read_text())
    payload["issue"]["key"] = created.key
    payload["issue"]["fields"]["issuetype"]["name"] = "Bug"
    payload["issue"]["fields"]["summary"] = "Export crashes on empty sprint"
    bug = bug_from_jira_issue(payload)
    assert bug is not None
    assert bug.severity == "critical"

    plan = plan_triage(bug, rules, workload)
    expected = min((ada, bob), key=lambda who: workload[who])
    log = await apply_triage_plan(plan, ledger=ledger, site="sim", jira=jira)
    assert [(e.kind, e.status) for e in log] == [
        ("assign", "done"),
        ("add_labels", "done"),
        ("set_priority", "done"),
        ("comment", "done"),
    ]
    again = await apply_triage_plan(plan, ledger=ledger, site="sim", jira=jira)
    assert {e.status for e in again} == {"already done"}

    fields = (await jira.get_issue(created.key)).fields
    assert fields["assignee"]["accountId"] == expected
    assert fields["labels"] == ["triaged"]
    assert fields["priority"]["name"] == "High"
    assert len(await jira.comments(created.key)) == 1


async def test_a_labelled_github_issue_is_routed_and_the_double_sees_each_call(
    fake: FakeGitHub, gh: GitHubClient, ledger: WriteLedger
) -> None:
    issue = fake.add_issue(
        "Crash when README is empty", body="Trace in docs/readme.md", labels=[fake._label("bug")]
    )
    fake.add_issue("Other work", assignees=[fake.users["hubot"]])
    rules = load_rules(
        """\
teams:
  docs:
    - {jira: acc-hubot, github: hubot}
    - {jira: acc-mona, github: monalisa}
rules:
  - name: docs bugs
    match: {labels: [bug], paths: ["docs/*"]}
    actions:
      assign: {team: docs}
      add_labels: [docs]
      priority: P1
      comment: Thanks, the docs team has it.
"""
    )
    workload = await count_open_work(
        rules.teams["docs"], jira=None, github=gh, repos=["octo/hello"]
    )
    assert workload == {"acc-hubot": 1, "acc-mona": 0}
    listed = [r.url.params.get("assignee") for r in fake.requests if r.url.path.endswith("/issues")]
    assert listed == ["hubot", "monalisa"]
    payload: dict[str, Any] = json.loads((FIXTURES / "github" / "issues.opened.json").read_text())
    payload["issue"] = issue
    payload["repository"]["full_name"] = "octo/hello"
    bug = bug_from_github_issue(payload, label="bug")
    assert bug is not None
    plan = plan_triage(bug, rules, workload)
    log = await apply_triage_plan(plan, ledger=ledger, site="github", github=gh)
    assert {e.status for e in log} == {"done"}

    stored = fake.issues[issue["number"]]
    assert [a["login"] for a in stored["assignees"]] == ["monalisa"]
    assert {lb["name"] for lb in stored["labels"]} == {"bug", "docs", "priority:P1"}
    assert [c["body"] for c in fake.comments[issue["number"]]] == ["Thanks, the docs team has it."]

    await apply_triage_plan(plan, ledger=ledger, site="github", github=gh)
    assert len(fake.comments[issue["number"]]) == 1


async def test_triage_event_logs_every_action_for_the_owner(
    fake: FakeGitHub, gh: GitHubClient, ledger: WriteLedger, engine: AsyncEngine
) -> None:
    issue = fake.add_issue("Typo in docs", labels=[fake._label("bug")])
    payload: dict[str, Any] = json.loads((FIXTURES / "github" / "issues.opened.json").read_text())
    payload["issue"] = issue
    payload["repository"]["full_name"] = "octo/hello"
    rules = load_rules(
        "rules:\n  - name: all bugs\n    match: {labels: [bug]}\n"
        "    actions: {add_labels: [triaged], comment: Seen.}\n"
    )
    store = DevLinkStore(session_factory(engine), await make_owner(engine, "team", "triage"))
    plan, log = await triage_event(
        "github",
        payload,
        rules=rules,
        ledger=ledger,
        site="gh",
        store=store,
        github=gh,
        repos=["octo/hello"],
        label="bug",
    )
    assert plan is not None
    assert [(e.kind, e.status) for e in log] == [("add_labels", "done"), ("comment", "done")]
    entries = await store.triage_log()
    assert [(e.bug_source, e.bug_ref, e.kind, e.status) for e in reversed(entries)] == [
        ("github", f"octo/hello#{issue['number']}", "add_labels", "done"),
        ("github", f"octo/hello#{issue['number']}", "comment", "done"),
    ]
    not_a_bug = dict(payload, action="edited")
    assert await triage_event("github", not_a_bug, rules=rules, ledger=ledger, site="gh") == (
        None,
        [],
    )
