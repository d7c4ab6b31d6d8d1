"""Pages of GitHub connections and backfills: ``/github/connections`` (add a token or a GitHub
App installation, test, pick repositories, set up webhooks, remove, start a backfill) and
``/github/backfill/{run_id}`` (progress with an ETA, refreshed by htmx until the run ends).

Only the logged-in user's own connections and runs are shown; another user's id is a 404. A
token or private key is never put back into a page; the webhook secret is shown once, on the
page that answers the create.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from jirabridge.errors import JirabridgeError, NotFoundError
from jirabridge.service.github import GitHubService
from jirabridge.store.accounts import ConnectionRepository
from jirabridge.store.db import read_transaction
from jirabridge.web.auth import AccountsDep, Caller, login_redirect, optional_caller, verify_csrf
from jirabridge.web.routes.github_api import get_github_service
from jirabridge.web.ui import FlashLevel, flash, render

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

OptionalCaller = Annotated[Caller | None, Depends(optional_caller)]
ServiceDep = Annotated[GitHubService, Depends(get_github_service)]


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
    owner = f"user:{caller.user.id}"
    async with read_transaction(ctx.sessions) as session:
        jira_connections = list(await ConnectionRepository(session, caller.user.id).list())
    context: dict[str, object] = {
        "caller": caller,
        "connections": await service.store(owner).list(),
        "jira_connections": [c for c in jira_connections if c.owner_user_id == caller.user.id],
        "webhook_url": service.webhook_url,
        "form": {},
        **extra,
    }
    return render(request, "devlinks/connections.html", context, status_code=status_code)


@router.get("/github/connections", response_class=HTMLResponse)
async def connections(
    request: Request, ctx: AccountsDep, service: ServiceDep, caller: OptionalCaller
) -> Response:
    """The user's GitHub connections and the form to add one."""
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
    try:
        created = await service.create(
            f"user:{caller.user.id}",
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
    result = await service.test(f"user:{caller.user.id}", connection_id)
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
    try:
        updated = await service.update(
            f"user:{caller.user.id}", connection_id, repos=_lines(form.get("repos"))
        )
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
        hooks = await service.set_up_webhooks(f"user:{caller.user.id}", connection_id)
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
    removed = await service.remove(f"user:{caller.user.id}", connection_id)
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
    try:
        months = int(str(form.get("months") or "6"))
        run_id = await service.start_backfill(
            f"user:{caller.user.id}", connection_id, months=months
        )
    except ValueError:
        return _back(request, "Months must be a whole number.", "error")
    except NotFoundError:
        raise
    except JirabridgeError as exc:
        return _back(request, exc.message, "error")
    return RedirectResponse(f"/github/backfill/{run_id}", status_code=303)


@router.get("/github/backfill/{run_id}", response_class=HTMLResponse)
async def backfill_page(
    run_id: str,
    request: Request,
    ctx: AccountsDep,
    service: ServiceDep,
    caller: OptionalCaller,
) -> Response:
    """A run's progress; the table refreshes itself until the run has ended."""
    if caller is None:
        return login_redirect(request)
    progress = await service.backfill_progress(f"user:{caller.user.id}", run_id)
    template = (
        "devlinks/_backfill.html" if request.headers.get("hx-request") else "devlinks/backfill.html"
    )
    return render(request, template, {"caller": caller, "run": progress})
