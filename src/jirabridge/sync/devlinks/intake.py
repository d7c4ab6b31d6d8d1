"""The entry point the webhook processor calls for a verified GitHub delivery.

``pull_request`` events refresh the remote links (and optional comments) of the issues the
pull request names; ``push`` events run each commit's Smart Commit commands. Other events are
acknowledged and ignored here (issues go to triage, which has its own entry point).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from jirabridge.errors import ValidationError
from jirabridge.jira import JiraClient
from jirabridge.jira.keys import DEFAULT_DENIED_PREFIXES
from jirabridge.store.devlinks import DevLinkStore, StoredLink
from jirabridge.store.ledger import WriteLedger
from jirabridge.sync.devlinks.events import (
    CommitRef,
    PullRequestRef,
    commits_from_push,
    pull_request_from_event,
)
from jirabridge.sync.devlinks.executor import (
    COMMENT_KIND,
    StepOutcome,
    apply_link_plan,
    apply_smart_commit_plan,
    ledger_done,
    read_link_state,
    read_smart_commit_state,
)
from jirabridge.sync.devlinks.links import (
    IssueLink,
    links_for_commit,
    links_for_pull_request,
    milestone_for_action,
    plan_pull_request_links,
    pull_request_global_id,
)
from jirabridge.sync.devlinks.smart_commits import parse_smart_commit, plan_smart_commit
from jirabridge.sync.devlinks.smart_time import TimeSink

__all__ = [
    "DevLinkSettings",
    "EventResult",
    "GitHubDelivery",
    "handle_github_event",
    "link_pull_request",
    "process_commit",
    "record_result",
]


@dataclass(frozen=True, slots=True)
class GitHubDelivery:
    """One verified GitHub webhook delivery: ``X-GitHub-Event``, ``X-GitHub-Delivery``, body."""

    event: str
    delivery_id: str
    payload: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class DevLinkSettings:
    """Per-connection settings: the Jira project allow-list, deny-list and comment milestones."""

    site: str
    projects: Collection[str] | None = None
    denied_prefixes: Collection[str] = DEFAULT_DENIED_PREFIXES
    comment_on: Collection[str] = ()
    smart_commits: bool = True
    allow_transitions: bool = True
    """False while replaying history (backfill): transitions are never fired then."""


@dataclass(slots=True)
class EventResult:
    """What one delivery did: the links found, each write's outcome, Smart Commit errors."""

    event: str
    links: list[IssueLink] = field(default_factory=list)
    outcomes: list[StepOutcome] = field(default_factory=list)
    errors: dict[str, list[str]] = field(default_factory=dict)
    """Smart Commit errors by commit sha."""
    ignored: bool = False


async def handle_github_event(
    delivery: GitHubDelivery,
    *,
    jira: JiraClient,
    ledger: WriteLedger,
    settings: DevLinkSettings,
    store: DevLinkStore | None = None,
    time_sink: TimeSink | None = None,
) -> EventResult:
    """Plan and apply what one GitHub delivery means for Jira (safe to redeliver).

    With a ``store``, the links and Smart Commit results are kept for the UI; with a
    ``time_sink``, ``#time`` goes through it (the service: the worklog engine).
    """
    result = EventResult(event=delivery.event)
    if delivery.event == "pull_request":
        pr = pull_request_from_event(delivery.payload)
        action = str(delivery.payload.get("action", ""))
        await link_pull_request(pr, action, result, jira=jira, ledger=ledger, settings=settings)
        if store is not None:
            await record_result(result, store, pull_request=pr)
    elif delivery.event == "push":
        commits = commits_from_push(delivery.payload)
        for commit in commits:
            await process_commit(
                commit, result, jira=jira, ledger=ledger, settings=settings, time_sink=time_sink
            )
        if store is not None:
            await record_result(result, store, commits=commits)
    else:
        result.ignored = True
    return result


async def link_pull_request(
    pr: PullRequestRef,
    action: str,
    result: EventResult,
    *,
    jira: JiraClient,
    ledger: WriteLedger,
    settings: DevLinkSettings,
) -> None:
    """Bring the remote links (and milestone comments) of one pull request up to date."""
    links = links_for_pull_request(
        pr, projects=settings.projects, denied_prefixes=settings.denied_prefixes
    )
    keys = [link.issue_key for link in links]
    existing = await read_link_state(jira, keys, pull_request_global_id(pr.repo, pr.number))
    milestone = milestone_for_action(action, pr.state)
    candidates = [f"pr:{pr.repo}#{pr.number}:{key}:{milestone}" for key in keys]
    done = await ledger_done(ledger, settings.site, COMMENT_KIND, candidates) if milestone else ()
    plan = plan_pull_request_links(
        pr,
        action=action,
        projects=settings.projects,
        denied_prefixes=settings.denied_prefixes,
        existing=existing,
        comment_on=settings.comment_on,
        already_commented=done,
    )
    result.links.extend(plan.links)
    outcomes = await apply_link_plan(plan, jira=jira, ledger=ledger, site=settings.site)
    result.outcomes.extend(outcomes)


async def process_commit(
    commit: CommitRef,
    result: EventResult,
    *,
    jira: JiraClient,
    ledger: WriteLedger,
    settings: DevLinkSettings,
    time_sink: TimeSink | None = None,
) -> None:
    """Record one commit's links and run its Smart Commits (used by push events and backfill)."""
    result.links.extend(
        links_for_commit(
            commit, projects=settings.projects, denied_prefixes=settings.denied_prefixes
        )
    )
    if not settings.smart_commits:
        return
    try:
        commands = parse_smart_commit(
            commit.message,
            projects=settings.projects,
            denied_prefixes=settings.denied_prefixes,
        )
    except ValidationError as exc:
        result.errors[commit.sha] = [str(exc)]
        return
    if not commands:
        return
    state = await read_smart_commit_state(
        commit, commands, jira=jira, ledger=ledger, site=settings.site
    )
    plan = plan_smart_commit(
        commit,
        commands,
        users_by_email=state.users_by_email,
        transitions=state.transitions,
        already_done=state.already_done,
        allow_transitions=settings.allow_transitions,
    )
    if plan.errors:
        result.errors[commit.sha] = list(plan.errors)
    result.outcomes.extend(
        await apply_smart_commit_plan(
            plan, commit, jira=jira, ledger=ledger, site=settings.site, time_sink=time_sink
        )
    )


async def record_result(
    result: EventResult,
    store: DevLinkStore,
    *,
    pull_request: PullRequestRef | None = None,
    commits: Sequence[CommitRef] = (),
) -> None:
    """Keep what a delivery did: its links (with the PR's url, title and state) and every
    Smart Commit outcome or error, so the UI can show them per issue, repository and commit."""
    by_sha = {c.sha: c for c in commits}
    for link in result.links:
        url: str | None
        title: str | None
        state: str | None
        if pull_request is not None and link.kind == "pull_request":
            url, title, state = pull_request.url, pull_request.title, pull_request.state.value
        else:
            commit = by_sha.get(link.ref)
            url = commit.url if commit else None
            title = commit.message.splitlines()[0] if commit and commit.message else None
            state = None
        await store.save_link(
            StoredLink(
                link.issue_key, link.repo, link.kind, link.ref, link.found_in, url, title, state
            )
        )
    for outcome in result.outcomes:
        if not outcome.external_id.startswith("smart:"):
            continue
        sha = outcome.external_id.split(":")[1]
        await store.record_smart_result(
            repo=by_sha[sha].repo if sha in by_sha else "",
            sha=sha,
            external_id=outcome.external_id,
            issue_key=outcome.issue_key,
            kind=outcome.kind,
            status=outcome.status,
            detail=outcome.detail or None,
        )
    for sha, errors in result.errors.items():
        await store.record_smart_result(
            repo=by_sha[sha].repo if sha in by_sha else "",
            sha=sha,
            external_id=f"smart:{sha}:error",
            issue_key=None,
            kind="error",
            status="failed",
            detail="; ".join(errors),
        )
