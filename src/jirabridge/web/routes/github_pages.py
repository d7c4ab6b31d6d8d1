"""Pages of GitHub connections and backfills: ``/github/connections`` (add a token or a GitHub
App installation for yourself or one of your teams, test, pick repositories, set up webhooks,
remove, start a backfill) and ``/github/backfill/{run_id}`` (progress with an ETA, refreshed by
htmx until the run ends).

The user's own connections and those of each team they belong to are shown, grouped by owner;
any member may manage a team's connection. Anyone else's id is a 404. A token or private key is
never put back into a page; the webhook secret is shown once, on the page that answers the
create.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from jirabridge.errors import JirabridgeError, NotFoundError
from jirabridge.service.account_wiring import AccountsContext
from jirabridge.service.api_keys import ApiKeyScope
from jirabridge.service.github import GitHubService
from jirabridge.store.accounts import ConnectionRepository, TeamRepository
from jirabridge.store.db import read_transaction
from jirabridge.store.github_connections import GitHubConnection
from jirabridge.web.auth import AccountsDep, Caller, login_redirect, optional_caller, verify_csrf
from jirabridge.web.routes.devlinks_api import resolve_owner
from jirabridge.web.routes.github_api import get_github_service
from jirabridge.web.ui import FlashLevel, flash, render

__all__ = ["OwnerGroup", "caller_owners", "connection_groups", "owner_of", "router"]

router = APIRouter(include_in_schema=False)

OptionalCaller = Annotated[Caller | None, Depends(optional_caller)]
ServiceDep = Annotated[GitHubService, Depends(get_github_service)]


@dataclass(frozen=True, slots=True)
class OwnerGroup:
    """One owner the caller may act for (``user:<id>`` or ``team:<id>``) and its connections."""

    key: str
    label: str
    connections: list[GitHubConnection] = field(default_factory=list)


async def caller_owners(caller: Caller, ctx: AccountsContext) -> list[OwnerGroup]:
    """The caller first ("Yours"), then each of their teams by name; no connections loaded."""
    async with read_transaction(ctx.sessions) as session:
        teams = await TeamRepository(session).teams_of(caller.user.id)
    return [
        OwnerGroup(f"user:{caller.user.id}", "Yours"),
        *(OwnerGroup(f"team:{t.id}", f"Team {t.name}") for t in teams),
    ]


async def connection_groups(
    caller: Caller, ctx: AccountsContext, service: GitHubService
) -> list[OwnerGroup]:
    """Every owner the caller may act for, each with its GitHub connections."""
    return [
        OwnerGroup(g.key, g.label, await service.store(g.key).list())
        for g in await caller_owners(caller, ctx)
    ]


async def owner_of(
    caller: Caller, ctx: AccountsContext, service: GitHubService, connection_id: str
) -> str:
    """The owner key of ``connection_id`` if the caller or one of their teams owns it.

    Pages name a connection by id alone, so its owner is found among those the caller may act
    for; a connection of anyone else is a 404, as if it did not exist.
    """
    for group in await caller_owners(caller, ctx):
        try:
            await service.connection(group.key, connection_id)
        except NotFoundError:
            continue
        return group.key
    raise NotFoundError("no such GitHub connection")


def _lines(value: object) -> list[str]:
    return [
        part.strip() for part in str(value or "").replace(",", "\n").splitlines() if part.strip()
    ]


async def _page(
    request: Request,
    caller: Caller,
    ctx: AccountsDep,
    service: GitHubService,
    *,
    status_code: int = 200,
    **extra: object,
) -> Response:
    groups = await connection_groups(caller, ctx, service)
    async with read_transaction(ctx.sessions) as session:
        jira_connections = list(await ConnectionRepository(session, caller.user.id).list())
    team_names = {g.key: g.label for g in groups}
    context: dict[str, object] = {
        "caller": caller,
        "groups": groups,
        # The service refuses a Jira connection of another owner; the label says whose it is.
        "jira_connections": [
            (
                j,
                "yours"
                if j.owner_user_id == caller.user.id
                else team_names.get(f"team:{j.owner_team_id}", "team"),
            )
            for j in jira_connections
        ],
        "webhook_url": service.webhook_url,
        "form": {},
        **extra,
    }
    return render(request, "devlinks/connections.html", context, status_code=status_code)


@router.get("/github/connections", response_class=HTMLResponse)
async def connections(
    request: Request, ctx: AccountsDep, service: ServiceDep, caller: OptionalCaller
) -> Response:
    """The user's and their teams' GitHub connections, and the form to add one."""
    if caller is None:
        return login_redirect(request)
    return await _page(request, caller, ctx, service)


@router.post("/github/connections", response_class=HTMLResponse)
async def add_connection(
    request: Request, ctx: AccountsDep, service: ServiceDep, caller: OptionalCaller
) -> Response:
    """Save a connection; the answer shows the webhook URL and secret, once."""
    if caller is None:
        return login_redirect(request)
    await verify_csrf(request, caller, ctx)
    form = await request.form()
    kind = "app" if form.get("kind") == "app" else "token"
    secret = str(form.get("private_key" if kind == "app" else "token") or "")
    owner = await resolve_owner(
        caller, ctx, str(form.get("owner") or "") or None, ApiKeyScope.WRITE
    )
    try:
        created = await service.create(
            owner,
            name=str(form.get("name") or ""),
            kind=kind,
            secret=secret,
            repos=_lines(form.get("repos")),
            project_keys=_lines(form.get("project_keys")),
            app_id=str(form.get("app_id") or "") or None,
            installation_id=str(form.get("installation_id") or "") or None,
            jira_connection_id=str(form.get("jira_connection_id") or "") or None,
        )
    except JirabridgeError as exc:
        keep = {k: str(v) for k, v in form.items() if k not in ("token", "private_key")}
        return await _page(
            request, caller, ctx, service, status_code=422, error=exc.message, form=keep
        )
    return await _page(request, caller, ctx, service, created=created)


def _back(request: Request, text: str, level: FlashLevel = "info") -> Response:
    response = RedirectResponse("/github/connections", status_code=303)
    flash(request, response, text, level)
    return response


@router.post("/github/connections/{connection_id}/test")
async def test_connection(
    connection_id: str,
    request: Request,
    ctx: AccountsDep,
    service: ServiceDep,
    caller: OptionalCaller,
) -> Response:
    """Call GitHub with the stored credentials and say what happened."""
    if caller is None:
        return login_redirect(request)
    await verify_csrf(request, caller, ctx)
    result = await service.test(await owner_of(caller, ctx, service, connection_id), connection_id)
    return _back(request, result.message, "success" if result.ok else "error")


@router.post("/github/connections/{connection_id}/repos")
async def pick_repositories(
    connection_id: str,
    request: Request,
    ctx: AccountsDep,
    service: ServiceDep,
    caller: OptionalCaller,
) -> Response:
    """Replace the repository selection."""
    if caller is None:
        return login_redirect(request)
    await verify_csrf(request, caller, ctx)
    form = await request.form()
    owner = await owner_of(caller, ctx, service, connection_id)
    try:
        updated = await service.update(owner, connection_id, repos=_lines(form.get("repos")))
    except NotFoundError:
        raise
    except JirabridgeError as exc:
        return _back(request, exc.message, "error")
    return _back(request, f"{updated.name}: {len(updated.repos)} repositories selected.", "success")


@router.post("/github/connections/{connection_id}/webhooks", response_class=HTMLResponse)
async def webhooks(
    connection_id: str,
    request: Request,
    ctx: AccountsDep,
    service: ServiceDep,
    caller: OptionalCaller,
) -> Response:
    """Create the repository webhooks, or show how to add them by hand."""
    if caller is None:
        return login_redirect(request)
    await verify_csrf(request, caller, ctx)
    try:
        hooks = await service.set_up_webhooks(
            await owner_of(caller, ctx, service, connection_id), connection_id
        )
    except NotFoundError:
        raise
    except JirabridgeError as exc:
        return _back(request, exc.message, "error")
    return await _page(request, caller, ctx, service, hooks=hooks)


@router.post("/github/connections/{connection_id}/delete")
async def remove(
    connection_id: str,
    request: Request,
    ctx: AccountsDep,
    service: ServiceDep,
    caller: OptionalCaller,
) -> Response:
    """Remove a connection and its webhook endpoint."""
    if caller is None:
        return login_redirect(request)
    await verify_csrf(request, caller, ctx)
    removed = await service.remove(
        await owner_of(caller, ctx, service, connection_id), connection_id
    )
    return _back(request, f"Removed {removed.name}.", "success")


@router.post("/github/connections/{connection_id}/backfill")
async def start_backfill(
    connection_id: str,
    request: Request,
    ctx: AccountsDep,
    service: ServiceDep,
    caller: OptionalCaller,
) -> Response:
    """Start a backfill of the connection's repositories and go to its progress page."""
    if caller is None:
        return login_redirect(request)
    await verify_csrf(request, caller, ctx)
    form = await request.form()
    owner = await owner_of(caller, ctx, service, connection_id)
    try:
        months = int(str(form.get("months") or "6"))
        run_id = await service.start_backfill(owner, connection_id, months=months)
    except ValueError:
        return _back(request, "Months must be a whole number.", "error")
    except NotFoundError:
        raise
    except JirabridgeError as exc:
        return _back(request, exc.message, "error")
    # A team's run is found under the team: the progress page is told whose run it is.
    query = "" if owner.startswith("user:") else f"?{urlencode({'owner': owner})}"
    return RedirectResponse(f"/github/backfill/{run_id}{query}", status_code=303)


@router.get("/github/backfill/{run_id}", response_class=HTMLResponse)
async def backfill_page(
    run_id: str,
    request: Request,
    ctx: AccountsDep,
    service: ServiceDep,
    caller: OptionalCaller,
    owner: Annotated[str | None, Query(max_length=48)] = None,
) -> Response:
    """A run's progress (``?owner=team:<id>`` for a team's); the table refreshes itself until
    the run has ended."""
    if caller is None:
        return login_redirect(request)
    key = await resolve_owner(caller, ctx, owner)
    progress = await service.backfill_progress(key, run_id)
    template = (
        "devlinks/_backfill.html" if request.headers.get("hx-request") else "devlinks/backfill.html"
    )
    owner_query = "" if key.startswith("user:") else f"?{urlencode({'owner': key})}"
    return render(
        request, template, {"caller": caller, "run": progress, "owner_query": owner_query}
    )
