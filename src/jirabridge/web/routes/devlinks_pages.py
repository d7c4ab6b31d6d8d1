"""Pages of the GitHub-and-Jira features: links per issue and repository, Smart Commit
results, backfill progress and the triage action log (``/github``), and the triage rules of
each GitHub connection with their dry-run (``/github/triage``).

``/github`` shows the logged-in user's own rows. ``/github/triage`` picks one of the user's or
their teams' GitHub connections, loads its rules into the editor, saves them back (validated;
nothing is stored when they have problems) and shows that connection's action log; another
owner's connection is a 404.
"""

from __future__ import annotations

import json
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from jirabridge.errors import NotFoundError, ValidationError
from jirabridge.service.account_wiring import AccountsContext
from jirabridge.service.api_keys import ApiKeyScope
from jirabridge.service.github import GitHubService
from jirabridge.store.devlinks import DevLinkStore
from jirabridge.store.github_connections import GitHubConnection
from jirabridge.sync.triage import (
    TriageRulesError,
    bug_from_github_issue,
    bug_from_jira_issue,
    load_rules,
    plan_triage,
)
from jirabridge.web.auth import AccountsDep, Caller, login_redirect, optional_caller, verify_csrf
from jirabridge.web.routes.github_api import get_github_service
from jirabridge.web.routes.github_pages import caller_owners, connection_groups, owner_of
from jirabridge.web.ui import add_nav_item, flash, render

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
add_nav_item("GitHub", "/github", order=40)

OptionalCaller = Annotated[Caller | None, Depends(optional_caller)]
ServiceDep = Annotated[GitHubService, Depends(get_github_service)]

_EXAMPLE_RULES = """\
rules:
  - name: bugs get triaged
    match: {labels: [bug]}
    actions:
      add_labels: [triaged]
      priority: High
"""
_LOG_ENTRIES = 20


@router.get("/github", response_class=HTMLResponse)
async def overview(
    request: Request,
    ctx: AccountsDep,
    caller: OptionalCaller,
    issue: str | None = None,
    repo: str | None = None,
    owner: str | None = None,
) -> Response:
    """Links, Smart Commit results, backfill progress and the triage log of the caller, or of
    one of their teams (``?owner=team:<id>``; anyone else's is a 404)."""
    if caller is None:
        return login_redirect(request)
    owners = await caller_owners(caller, ctx)
    chosen = owner or owners[0].key
    if chosen not in {o.key for o in owners}:
        raise NotFoundError("no such owner")
    store = DevLinkStore(ctx.sessions, chosen)
    return render(
        request,
        "devlinks/overview.html",
        {
            "caller": caller,
            "owners": owners,
            "owner": chosen,
            "issue": issue,
            "repo": repo,
            "links": await store.links(issue_key=issue or None, repo=repo or None),
            "smart": await store.smart_results(),
            "cursors": await store.cursors(),
            "log": await store.triage_log(limit=50),
        },
    )


async def _triage_context(
    caller: Caller,
    ctx: AccountsContext,
    service: GitHubService,
    connection_id: str | None,
) -> tuple[dict[str, object], GitHubConnection | None]:
    """The picker, and the chosen connection with its action log (404 if not the caller's)."""
    context: dict[str, object] = {
        "caller": caller,
        "groups": await connection_groups(caller, ctx, service),
        "connection": None,
        "log": [],
    }
    if not connection_id:
        return context, None
    owner = await owner_of(caller, ctx, service, connection_id)
    connection = await service.connection(owner, connection_id)
    context["connection"] = connection
    context["log"] = await DevLinkStore(ctx.sessions, owner).triage_log(
        limit=_LOG_ENTRIES, connection_id=connection_id
    )
    return context, connection


@router.get("/github/triage", response_class=HTMLResponse)
async def triage_form(
    request: Request,
    ctx: AccountsDep,
    service: ServiceDep,
    caller: OptionalCaller,
    connection: Annotated[str | None, Query(max_length=36)] = None,
) -> Response:
    """The rules editor: a chosen connection's saved rules (an example rule otherwise)."""
    if caller is None:
        return login_redirect(request)
    context, chosen = await _triage_context(caller, ctx, service, connection)
    saved = chosen.triage_rules if chosen is not None else None
    context.update(
        rules=saved or _EXAMPLE_RULES,
        # An example in the editor of a connection must not pass for its saved rules.
        example=not saved,
        event="",
        label=(chosen.triage_label if chosen is not None else None) or "bug",
    )
    return render(request, "devlinks/triage.html", context)


@router.post("/github/triage", response_class=HTMLResponse)
async def triage_dry_run(
    request: Request, ctx: AccountsDep, service: ServiceDep, caller: OptionalCaller
) -> Response:
    """Show what the editor's rules would do to the pasted event; nothing is saved."""
    if caller is None:
        return login_redirect(request)
    await verify_csrf(request, caller, ctx)
    form = await request.form()
    rules_text, event_text = str(form.get("rules") or ""), str(form.get("event") or "")
    label = str(form.get("label") or "") or None
    context, _ = await _triage_context(
        caller, ctx, service, str(form.get("connection_id") or "") or None
    )
    context.update(rules=rules_text, event=event_text, label=label)
    try:
        rules = load_rules(rules_text)
        payload = json.loads(event_text)
        if not isinstance(payload, dict):
            raise ValidationError("the event must be a JSON object")
        if "webhookEvent" in payload:
            bug = bug_from_jira_issue(payload)
        else:
            bug = bug_from_github_issue(payload, label=label)
    except TriageRulesError as exc:
        context["problems"] = exc.problems
        return render(request, "devlinks/triage.html", context, status_code=422)
    except (ValidationError, json.JSONDecodeError) as exc:
        context["error"] = f"The event could not be read: {exc}"
        return render(request, "devlinks/triage.html", context, status_code=422)
    if bug is None:
        context["plan_text"] = "The event is not a new bug: nothing to triage."
    else:
        context["plan_text"] = plan_triage(bug, rules, {}).describe()
    return render(request, "devlinks/triage.html", context)


@router.post("/github/triage/{connection_id}/rules", response_class=HTMLResponse)
async def save_rules(
    connection_id: str,
    request: Request,
    ctx: AccountsDep,
    service: ServiceDep,
    caller: OptionalCaller,
) -> Response:
    """Validate the editor's rules and store them on the connection (422 with the problems,
    by line, and nothing stored when they are not valid)."""
    if caller is None:
        return login_redirect(request)
    # Pages also take API keys: a read-only key must not change the rules.
    caller.require(ApiKeyScope.WRITE)
    await verify_csrf(request, caller, ctx)
    form = await request.form()
    # Browsers send a textarea with CRLF line ends; store what the API and CLI would.
    rules_text = str(form.get("rules") or "").replace("\r\n", "\n")
    context, chosen = await _triage_context(caller, ctx, service, connection_id)
    assert chosen is not None  # an id was given: a connection or a 404
    try:
        # The API's update path: it validates, and writes nothing when the rules are refused.
        saved = await service.update(chosen.owner_key, connection_id, triage_rules=rules_text)
    except TriageRulesError as exc:
        context.update(
            rules=rules_text,
            example=False,
            event=str(form.get("event") or ""),
            label=str(form.get("label") or "") or None,
            problems=exc.problems,
        )
        return render(request, "devlinks/triage.html", context, status_code=422)
    query = urlencode({"connection": connection_id})
    response = RedirectResponse(f"/github/triage?{query}", status_code=303)
    verb = "Saved" if saved.triage_rules else "Cleared"
    flash(request, response, f"{verb} the triage rules of {saved.name}.", "success")
    return response
