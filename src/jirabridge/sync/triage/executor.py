"""Carry out a triage plan on the bug's own side (Jira or GitHub) and count open work.

Each action is written once per bug through the write ledger (redelivered webhooks must not
comment twice), and every action, done or failed, becomes an :class:`ActionLogEntry`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from jirabridge.errors import ApiError, ConfigError
from jirabridge.github import GitHubClient
from jirabridge.jira import JiraClient
from jirabridge.jira.jql import jql_string
from jirabridge.store.ledger import LedgerKey, WriteLedger
from jirabridge.store.models import LedgerState
from jirabridge.sync.triage.engine import TriageAction, TriagePlan
from jirabridge.sync.triage.rules import TeamMember

__all__ = ["ActionLogEntry", "apply_triage_plan", "count_open_work"]

TRIAGE_KIND = "triage_action"


@dataclass(frozen=True, slots=True)
class ActionLogEntry:
    """One action taken (or not) on one bug, for the action log."""

    bug: str
    rule: str
    kind: str
    value: str
    status: str
    """``done``, ``already done``, ``skipped`` or ``failed``."""
    detail: str = ""


async def count_open_work(
    members: Iterable[TeamMember],
    *,
    jira: JiraClient | None,
    github: GitHubClient | None,
    repos: Sequence[str] = (),
) -> dict[str, int]:
    """Open items per member (by Jira account id): unresolved Jira issues plus open GitHub issues
    assigned to them in ``repos``."""
    counts: dict[str, int] = {}
    for member in members:
        total = 0
        if jira is not None:
            jql = f"assignee = {jql_string(member.jira)} AND statusCategory != Done"
            total += sum([1 async for _ in jira.search(jql, fields=["key"])])
        if github is not None:
            for repo in repos:
                # Checked again here, so a listing that returns more than was asked for
                # (a proxy or test double ignoring the filter) cannot inflate the count.
                total += sum(
                    [
                        1
                        async for issue in github.list_issues(repo, assignee=member.github)
                        if any(a.login == member.github for a in issue.assignees)
                    ]
                )
        counts[member.jira] = total
    return counts


def _split_ref(ref: str) -> tuple[str, int]:
    repo, _, number = ref.rpartition("#")
    return repo, int(number)


async def _do(
    action: TriageAction, source: str, ref: str, jira: JiraClient | None, gh: GitHubClient | None
) -> str:
    if source == "jira":
        if jira is None:
            raise ConfigError("a Jira bug needs a Jira connection to triage it")
        if action.kind == "assign":
            await jira.assign_issue(ref, action.value)
        elif action.kind == "add_labels":
            await jira.add_labels(ref, *action.value.split(","))
        elif action.kind == "set_priority":
            await jira.edit_issue(ref, fields={"priority": {"name": action.value}})
        else:
            return (await jira.add_comment(ref, action.value)).id or "comment"
        return action.kind
    if gh is None:
        raise ConfigError("a GitHub bug needs a GitHub connection to triage it")
    repo, number = _split_ref(ref)
    if action.kind == "assign":
        await gh.assign(repo, number, [action.value])
    elif action.kind == "add_labels":
        await gh.add_labels(repo, number, action.value.split(","))
    elif action.kind == "set_priority":
        # GitHub issues have no priority field: the convention is a label.
        await gh.add_labels(repo, number, [f"priority:{action.value}"])
    else:
        return str((await gh.create_comment(repo, number, action.value)).id)
    return action.kind


async def apply_triage_plan(
    plan: TriagePlan,
    *,
    ledger: WriteLedger,
    site: str,
    jira: JiraClient | None = None,
    github: GitHubClient | None = None,
) -> list[ActionLogEntry]:
    """Do each planned action once; return the action log for this bug."""
    bug = plan.bug
    log: list[ActionLogEntry] = []
    for index, action in enumerate(plan.actions):
        if action.kind == "skip":
            log.append(
                ActionLogEntry(bug.ref, action.rule, action.value, "", "skipped", action.note)
            )
            continue
        external_id = f"triage:{bug.source}:{bug.ref}:{index}:{action.kind}"
        key = LedgerKey(site, TRIAGE_KIND, external_id[:255])
        fingerprint = hashlib.sha256(f"{action.kind}\x1f{action.value}".encode()).hexdigest()
        intent = await ledger.record_intent(key, fingerprint=fingerprint, target=bug.ref[:255])
        if not intent.created and intent.entry.state is LedgerState.CONFIRMED:
            log.append(
                ActionLogEntry(bug.ref, action.rule, action.kind, action.value, "already done")
            )
            continue
        await ledger.mark_sent(key)
        try:
            remote = await _do(action, bug.source, bug.ref, jira, github)
        except ApiError as exc:
            await ledger.mark_failed(key, str(exc) or "refused")
            log.append(
                ActionLogEntry(bug.ref, action.rule, action.kind, action.value, "failed", str(exc))
            )
            continue
        await ledger.confirm(key, remote)
        log.append(ActionLogEntry(bug.ref, action.rule, action.kind, action.value, "done"))
    return log
