"""Normalising bugs from both sides and planning rules over them (the dry-run)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from jirabridge.sync.triage import (
    bug_from_github_issue,
    bug_from_jira_issue,
    load_rules,
    plan_triage,
)

FIXTURES = Path(__file__).parents[1] / "fixtures" / "webhooks"

RULES = load_rules(
    """\
teams:
  backend:
    - {jira: acc-ada, github: ada}
    - {jira: acc-bob, github: bob}
rules:
  - name: github bugs
    match: {source: github, labels: [bug]}
    actions: {add_labels: [triaged]}
  - name: readme
    match: {keywords: [readme, spelled]}
    actions:
      assign: {team: backend}
      priority: Low
      comment: Routed to backend.
  - name: everything else
    match: {}
    actions:
      assign: {user: acc-carol}
      priority: Medium
"""
)


def github_issue() -> dict[str, Any]:
    return json.loads((FIXTURES / "github" / "issues.opened.json").read_text())  # type: ignore[no-any-return]


def test_github_issue_is_normalised() -> None:
    payload = github_issue()
    payload["issue"]["body"] += "\nSee src/api/handlers.py, it crashes: https://example.test/log"
    bug = bug_from_github_issue(payload, label="bug")
    assert bug is not None
    assert bug.source == "github"
    assert bug.ref == "Codertocat/Hello-World#1"
    assert bug.labels == ("bug",)
    assert bug.reporter == "Codertocat"
    assert bug.severity == "critical"
    assert bug.paths == ("src/api/handlers.py",)
    assert bug.component_guess == "api"
    assert "https://example.test/log" in bug.links
    assert bug_from_github_issue(payload, label="security") is None


def test_jira_bug_is_normalised_and_other_types_are_not() -> None:
    payload = json.loads((FIXTURES / "jira" / "mattermost-webhook-issue-created.json").read_text())
    payload["issue"]["fields"]["issuetype"]["name"] = "Bug"
    bug = bug_from_jira_issue(payload)
    assert bug is not None
    assert bug.source == "jira"
    assert bug.ref == payload["issue"]["key"]
    assert bug.title == payload["issue"]["fields"]["summary"]
    payload["issue"]["fields"]["issuetype"]["name"] = "Story"
    assert bug_from_jira_issue(payload) is None


def test_dry_run_shows_each_rule_and_least_busy_member_wins() -> None:
    bug = bug_from_github_issue(github_issue(), label=None)
    assert bug is not None
    plan = plan_triage(bug, RULES, {"acc-ada": 3, "acc-bob": 1})
    assert [(a.rule, a.kind, a.value) for a in plan.actions] == [
        ("github bugs", "add_labels", "triaged"),
        ("readme", "assign", "bob"),
        ("readme", "set_priority", "Low"),
        ("readme", "comment", "Routed to backend."),
        ("everything else", "skip", "assign"),
        ("everything else", "skip", "set_priority"),
    ]
    text = plan.describe()
    assert "rule 'readme' (line 9) matches: keyword 'readme'" in text
    assert "assign bob (team backend, least open work: 1)" in text


def test_a_rule_that_does_not_match_says_why() -> None:
    payload = github_issue()
    payload["issue"]["title"] = "Login page"
    payload["issue"]["body"] = "Nothing about docs"
    bug = bug_from_github_issue(payload, label=None)
    assert bug is not None
    plan = plan_triage(bug, RULES, {})
    assert plan.verdicts[1].matched is False
    assert plan.verdicts[1].reason == "none of the keywords ['readme', 'spelled']"
    assert ("everything else", "assign", "acc-carol") in [
        (a.rule, a.kind, a.value) for a in plan.actions
    ]
