"""Pages of the GitHub-and-Jira features: links per issue and repository, Smart Commit
results, backfill progress and the triage action log (``/github``), and the triage rules
dry-run (``/github/triage``). Only the logged-in user's own rows are shown.
"""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from jirabridge.errors import ValidationError
from jirabridge.store.devlinks import DevLinkStore
from jirabridge.sync.triage import (
    TriageRulesError,
    bug_from_github_issue,
    bug_from_jira_issue,
    load_rules,
    plan_triage,
)
from jirabridge.web.auth import AccountsDep, Caller, login_redirect, optional_caller, verify_csrf
from jirabridge.web.ui import add_nav_item, render

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
add_nav_item("GitHub", "/github", order=40)

OptionalCaller = Annotated[Caller | None, Depends(optional_caller)]

_EXAMPLE_RULES = """\
rules:
  - name: bugs get triaged
    match: {labels: [bug]}
    actions:
      add_labels: [triaged]
      priority: High
"""


@router.get("/github", response_class=HTMLResponse)
async def overview(
    request: Request,
    ctx: AccountsDep,
    caller: OptionalCaller,
    issue: str | None = None,
    repo: str | None = None,
) -> Response:
    """Links, Smart Commit results, backfill progress and the triage log."""
    if caller is None:
        return login_redirect(request)
    store = DevLinkStore(ctx.sessions, f"user:{caller.user.id}")
    return render(
        request,
        "devlinks/overview.html",
        {
            "caller": caller,
            "issue": issue,
            "repo": repo,
            "links": await store.links(issue_key=issue or None, repo=repo or None),
            "smart": await store.smart_results(),
            "cursors": await store.cursors(),
            "log": await store.triage_log(limit=50),
        },
    )


@router.get("/github/triage", response_class=HTMLResponse)
async def triage_form(request: Request, caller: OptionalCaller) -> Response:
    """The dry-run form, with an example rule."""
    if caller is None:
        return login_redirect(request)
    context = {"caller": caller, "rules": _EXAMPLE_RULES, "event": "", "label": "bug"}
    return render(request, "devlinks/triage.html", context)


@router.post("/github/triage", response_class=HTMLResponse)
async def triage_dry_run(request: Request, ctx: AccountsDep, caller: OptionalCaller) -> Response:
    """Show what the rules would do to the pasted event."""
    if caller is None:
        return login_redirect(request)
    await verify_csrf(request, caller, ctx)
    form = await request.form()
    rules_text, event_text = str(form.get("rules") or ""), str(form.get("event") or "")
    label = str(form.get("label") or "") or None
    context: dict[str, object] = {
        "caller": caller,
        "rules": rules_text,
        "event": event_text,
        "label": label,
    }
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
