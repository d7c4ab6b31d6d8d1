"""REST API of the GitHub-and-Jira features.

``/api/devlinks/links`` (per issue or repository), ``/api/devlinks/commits/{sha}`` (Smart
Commit results), ``/api/devlinks/backfill`` (progress), ``/api/issue-keys/explain``,
``/api/triage/log`` and ``/api/triage/dry-run``. Everything is scoped to the caller, or to one
of the caller's teams with ``?owner=team:<id>``; another owner's rows are never visible.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from jirabridge.errors import NotFoundError
from jirabridge.jira.keys import explain_keys
from jirabridge.service.account_wiring import AccountsContext
from jirabridge.service.api_keys import ApiKeyScope
from jirabridge.store.accounts import TeamRepository
from jirabridge.store.db import read_transaction
from jirabridge.store.devlinks import DevLinkStore
from jirabridge.sync.triage import (
    bug_from_github_issue,
    bug_from_jira_issue,
    load_rules,
    plan_triage,
)
from jirabridge.web.auth import AccountsDep, Caller, require_api_caller

__all__ = ["owner_store", "resolve_owner", "router"]

router = APIRouter(prefix="/api", tags=["github-jira"])

CallerDep = Annotated[Caller, Depends(require_api_caller)]


async def resolve_owner(
    caller: Caller,
    ctx: AccountsContext,
    owner: str | None,
    scope: ApiKeyScope = ApiKeyScope.READ,
) -> str:
    """The owner key ``owner`` (default: the caller) after checking the caller may act for it.

    A team the caller is not in answers 404, as if it did not exist.
    """
    caller.require(scope)
    if owner is None or owner == f"user:{caller.user.id}":
        return f"user:{caller.user.id}"
    kind, _, ident = owner.partition(":")
    if kind == "team":
        async with read_transaction(ctx.sessions) as session:
            teams = await TeamRepository(session).teams_of(caller.user.id)
        if any(t.id == ident for t in teams):
            return owner
    raise NotFoundError("no such owner")


async def owner_store(caller: Caller, ctx: AccountsContext, owner: str | None) -> DevLinkStore:
    """The store of ``owner`` (default: the caller), after checking the caller may see it."""
    return DevLinkStore(ctx.sessions, await resolve_owner(caller, ctx, owner))


class LinkOut(BaseModel):
    """One issue link."""

    issue_key: str
    repo: str
    kind: str
    ref: str
    found_in: list[str]
    url: str | None
    title: str | None
    state: str | None


class SmartResultOut(BaseModel):
    """What one Smart Commit command did."""

    sha: str
    repo: str
    issue_key: str | None
    kind: str
    status: str
    detail: str | None


class CursorOut(BaseModel):
    """A repository's backfill progress."""

    repo: str
    processed: int
    total: int
    done: bool


class TriageLogOut(BaseModel):
    """One action-log entry."""

    bug_source: str
    bug_ref: str
    rule: str
    kind: str
    value: str
    status: str
    detail: str | None


class ExplainIn(BaseModel):
    """Text to search for issue keys, with an optional project allow-list."""

    text: str = Field(max_length=100_000)
    projects: list[str] | None = None


class ExplainOut(BaseModel):
    """One key-shaped token and the decision on it."""

    text: str
    key: str
    source: str
    start: int
    end: int
    accepted: bool
    decision: str


class DryRunIn(BaseModel):
    """Rules YAML and a GitHub ``issues`` or Jira ``issue_created`` payload."""

    rules: str = Field(max_length=200_000)
    event: dict[str, Any]
    label: str | None = None


class DryRunOut(BaseModel):
    """What the rules would do (nothing is written)."""

    bug: str | None
    verdicts: list[dict[str, Any]]
    actions: list[dict[str, Any]]
    text: str


@router.get("/devlinks/links", response_model=list[LinkOut])
async def links(
    caller: CallerDep,
    ctx: AccountsDep,
    issue: Annotated[str | None, Query(max_length=255)] = None,
    repo: Annotated[str | None, Query(max_length=255)] = None,
    owner: Annotated[str | None, Query(max_length=48)] = None,
) -> list[LinkOut]:
    """Pull request and commit links, of one issue or one repository."""
    store = await owner_store(caller, ctx, owner)
    found = await store.links(issue_key=issue, repo=repo)
    return [
        LinkOut(
            issue_key=x.issue_key,
            repo=x.repo,
            kind=x.kind,
            ref=x.ref,
            found_in=list(x.found_in),
            url=x.url,
            title=x.title,
            state=x.state,
        )
        for x in found
    ]


@router.get("/devlinks/commits/{sha}", response_model=list[SmartResultOut])
async def commit_results(
    sha: str, caller: CallerDep, ctx: AccountsDep, owner: str | None = None
) -> list[SmartResultOut]:
    """The Smart Commit results of one commit."""
    store = await owner_store(caller, ctx, owner)
    rows = await store.smart_results(sha)
    return [
        SmartResultOut(
            sha=r.sha,
            repo=r.repo,
            issue_key=r.issue_key,
            kind=r.kind,
            status=r.status,
            detail=r.detail,
        )
        for r in rows
    ]


@router.get("/devlinks/backfill", response_model=list[CursorOut])
async def backfill_progress(
    caller: CallerDep, ctx: AccountsDep, owner: str | None = None
) -> list[CursorOut]:
    """Backfill progress per repository."""
    store = await owner_store(caller, ctx, owner)
    return [
        CursorOut(repo=c.repo, processed=c.processed, total=c.total, done=c.done)
        for c in await store.cursors()
    ]


@router.get("/triage/log", response_model=list[TriageLogOut])
async def triage_log(
    caller: CallerDep,
    ctx: AccountsDep,
    owner: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[TriageLogOut]:
    """The triage action log, newest first."""
    store = await owner_store(caller, ctx, owner)
    return [
        TriageLogOut(
            bug_source=r.bug_source,
            bug_ref=r.bug_ref,
            rule=r.rule,
            kind=r.kind,
            value=r.value,
            status=r.status,
            detail=r.detail,
        )
        for r in await store.triage_log(limit=limit)
    ]


@router.post("/issue-keys/explain", response_model=list[ExplainOut])
async def keys_explain(body: ExplainIn, caller: CallerDep) -> list[ExplainOut]:
    """Which issue keys the text holds, and why each candidate was kept or dropped."""
    caller.require(ApiKeyScope.READ)
    return [
        ExplainOut(
            text=c.text,
            key=c.key,
            source=c.source,
            start=c.start,
            end=c.end,
            accepted=c.accepted,
            decision=c.decision.value,
        )
        for c in explain_keys(body.text, projects=body.projects)
    ]


@router.post("/triage/dry-run", response_model=DryRunOut)
async def triage_dry_run(body: DryRunIn, caller: CallerDep) -> DryRunOut:
    """What the rules would do to the bug in ``event``; invalid rules answer 422 with lines."""
    caller.require(ApiKeyScope.READ)
    rules = load_rules(body.rules)
    if "webhookEvent" in body.event:
        bug = bug_from_jira_issue(body.event)
    else:
        bug = bug_from_github_issue(body.event, label=body.label)
    if bug is None:
        return DryRunOut(bug=None, verdicts=[], actions=[], text="not a new bug")
    plan = plan_triage(bug, rules, {})
    return DryRunOut(
        bug=bug.ref,
        verdicts=[
            {"rule": v.rule, "line": v.line, "matched": v.matched, "reason": v.reason}
            for v in plan.verdicts
        ],
        actions=[
            {"rule": a.rule, "kind": a.kind, "value": a.value, "note": a.note} for a in plan.actions
        ],
        text=plan.describe(),
    )
