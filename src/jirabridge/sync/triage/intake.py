"""Entry point for new bugs: a GitHub ``issues`` delivery or a Jira ``jira:issue_created`` one.

Normalise, plan with the owner's rules and the team's open work, carry the plan out once, and
append every action to the owner's action log.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from jirabridge.github import GitHubClient
from jirabridge.jira import JiraClient
from jirabridge.store.devlinks import DevLinkStore
from jirabridge.store.ledger import WriteLedger
from jirabridge.sync.triage.engine import TriagePlan, plan_triage
from jirabridge.sync.triage.executor import ActionLogEntry, apply_triage_plan, count_open_work
from jirabridge.sync.triage.report import bug_from_github_issue, bug_from_jira_issue
from jirabridge.sync.triage.rules import RuleSet

__all__ = ["triage_event"]


async def triage_event(
    source: str,
    payload: Mapping[str, Any],
    *,
    rules: RuleSet,
    ledger: WriteLedger,
    site: str,
    store: DevLinkStore | None = None,
    jira: JiraClient | None = None,
    github: GitHubClient | None = None,
    repos: Sequence[str] = (),
    label: str | None = None,
    connection_id: str | None = None,
) -> tuple[TriagePlan | None, list[ActionLogEntry]]:
    """Triage one delivery (``source`` is ``github`` or ``jira``); None when it is not a bug.

    ``connection_id`` names the GitHub connection whose rules these are, in the action log.
    """
    if source == "github":
        bug = bug_from_github_issue(payload, label=label)
    else:
        bug = bug_from_jira_issue(payload)
    if bug is None:
        return None, []
    members = {m.jira: m for team in rules.teams.values() for m in team}.values()
    workload = await count_open_work(members, jira=jira, github=github, repos=repos)
    plan = plan_triage(bug, rules, workload)
    log = await apply_triage_plan(plan, ledger=ledger, site=site, jira=jira, github=github)
    if store is not None:
        await store.log_triage(
            bug.source,
            [(e.bug, e.rule, e.kind, e.value, e.status, e.detail) for e in log],
            connection_id=connection_id,
        )
    return plan, log
