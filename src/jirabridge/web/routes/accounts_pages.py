"""Pages of accounts and Jira connections: login/logout, account, API keys, connections with a
step-by-step setup (kind -> details -> test -> save), the OAuth connect/callback/site choice/
disconnect, and the audit log for admins.

Every form carries the session's CSRF token; htmx requests send it in ``X-CSRF-Token`` (set by
``hx-headers`` on the page). The login form, which has no session yet, uses a double-submit
cookie instead.
"""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from jirabridge.errors import JirabridgeError, PermissionDeniedError
from jirabridge.service.account_wiring import AccountsContext
from jirabridge.service.connections import ConnectionInput, TestOutcome
from jirabridge.store.account_models import ConnectionKind
from jirabridge.store.accounts import AuditLog, TeamRepository
from jirabridge.store.db import read_transaction
from jirabridge.web.auth import (
    AccountsDep,
    Caller,
    clear_session_cookie,
    get_api_limiter,
    login_redirect,
    optional_caller,
    set_session_cookie,
    verify_csrf,
)
from jirabridge.web.ui import add_nav_item, flash, render, templates

__all__ = ["KIND_LABELS", "router"]

router = APIRouter(include_in_schema=False)
add_nav_item("Connections", "/connections", order=20)
add_nav_item("Account", "/account", order=90)

LOGIN_CSRF_COOKIE = "jb_login_csrf"

KIND_LABELS: dict[str, str] = {
    ConnectionKind.CLOUD_TOKEN.value: "Jira Cloud: e-mail + API token",
    ConnectionKind.DC_PAT.value: "Jira Data Center: personal access token",
    ConnectionKind.DC_BASIC.value: "Jira Data Center: user name + password",
    ConnectionKind.OAUTH.value: "Jira Cloud: OAuth (sign in with Atlassian)",
}

OptionalCaller = Annotated[Caller | None, Depends(optional_caller)]


def _safe_next(target: str | None) -> str:
    # Only local paths: an open redirect would make the login page a phishing tool.
    # Browsers read "/\\host" like "//host", so backslashes are refused too.
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/connections"


def _indicator(rows: list[Any]) -> dict[str, Any]:
    return {
        "count": sum(1 for r in rows if r.is_active and not r.needs_reconnect),
        "needs_reconnect": any(r.needs_reconnect for r in rows),
    }


async def _page(
    request: Request,
    template: str,
    caller: Caller | None,
    ctx: Any,
    context: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    indicator = _indicator([])
    if caller is not None:
        indicator = _indicator(await ctx.connections.list(caller.user.id))
    return render(
        request,
        template,
        {"caller": caller, "indicator": indicator, "kinds": KIND_LABELS, **(context or {})},
        status_code=status_code,
    )


@router.get("/ui/account-indicator", response_class=HTMLResponse)
async def account_indicator(request: Request, ctx: AccountsDep, caller: OptionalCaller) -> Response:
    """htmx fragment for any page's top bar: the user and the Jira connection indicator."""
    if caller is None:
        return HTMLResponse('<a href="/login">Log in</a>')
    rows = await ctx.connections.list(caller.user.id)
    # Not render(): a fragment must not consume the page's pending flash messages.
    return templates.TemplateResponse(
        request,
        "accounts/_indicator.html",
        {"caller": caller, "indicator": _indicator(rows)},
    )


def _set_login_csrf(response: Response, token: str, ctx: AccountsContext) -> None:
    # The login form has no session yet: a double-submit cookie, strict and short-lived.
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        max_age=3600,
        secure=ctx.secure_cookies,
    )


@router.get("/login", response_class=HTMLResponse)
async def login_form(request: Request, ctx: AccountsDep, next: str = "") -> Response:
    """The login page."""
    token = secrets.token_urlsafe(24)
    response = await _page(
        request,
        "accounts/login.html",
        None,
        ctx,
        {"login_csrf": token, "next": _safe_next(next), "email": "", "error": None},
    )
    _set_login_csrf(response, token, ctx)
    return response


@router.post("/login")
async def login(
    request: Request,
    ctx: AccountsDep,
    email: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "",
) -> Response:
    """Check the credentials and open a session."""
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not cookie or not hmac.compare_digest(cookie, csrf_token):
        raise PermissionDeniedError("the login form expired; reload the page and try again")
    limiter = get_api_limiter(request)
    if limiter is not None:
        # Before the password check: guessing costs a token whether it succeeds or not.
        await limiter.check_login(
            email=email, address=request.client.host if request.client else None
        )
    user = await ctx.accounts.authenticate(email, password)
    if user is None:
        token = secrets.token_urlsafe(24)
        response = await _page(
            request,
            "accounts/login.html",
            None,
            ctx,
            {
                "login_csrf": token,
                "next": _safe_next(next),
                "email": email,
                "error": "Wrong e-mail or password.",
            },
            status_code=400,
        )
        _set_login_csrf(response, token, ctx)
        return response
    session_token = await ctx.accounts.start_session(user)
    response = RedirectResponse(_safe_next(next), status_code=303)
    set_session_cookie(response, session_token, secure=ctx.secure_cookies)
    response.delete_cookie(LOGIN_CSRF_COOKIE)
    return response


@router.post("/logout")
async def logout(request: Request, ctx: AccountsDep, caller: OptionalCaller) -> Response:
    """End the session."""
    response = RedirectResponse("/login", status_code=303)
    if caller is not None and caller.session_token:
        await verify_csrf(request, caller, ctx)
        await ctx.accounts.end_session(caller.session_token)
    clear_session_cookie(response)
    return response


@router.get("/account", response_class=HTMLResponse)
async def account_page(request: Request, ctx: AccountsDep, caller: OptionalCaller) -> Response:
    """Who you are, with links to keys and connections."""
    if caller is None:
        return login_redirect(request)
    async with read_transaction(ctx.sessions) as session:
        teams = await TeamRepository(session).teams_of(caller.user.id)
    return await _page(request, "accounts/account.html", caller, ctx, {"teams": teams})


@router.get("/account/keys", response_class=HTMLResponse)
async def keys_page(request: Request, ctx: AccountsDep, caller: OptionalCaller) -> Response:
    """Your API keys."""
    if caller is None:
        return login_redirect(request)
    keys = await ctx.accounts.list_api_keys(caller.user.id)
    return await _page(request, "accounts/keys.html", caller, ctx, {"keys": keys})


@router.post("/account/keys", response_class=HTMLResponse)
async def create_key(request: Request, ctx: AccountsDep, caller: OptionalCaller) -> Response:
    """Make a key and show it once."""
    if caller is None:
        return login_redirect(request)
    await verify_csrf(request, caller, ctx)
    form = await request.form()
    scopes = [str(v) for v in form.getlist("scopes")]
    created = await ctx.accounts.create_api_key(
        caller.user, name=str(form.get("name") or ""), scopes=scopes
    )
    keys = await ctx.accounts.list_api_keys(caller.user.id)
    return await _page(
        request, "accounts/keys.html", caller, ctx, {"keys": keys, "new_key": created.plaintext}
    )


@router.post("/account/keys/{key_id}/revoke")
async def revoke_key(
    key_id: str, request: Request, ctx: AccountsDep, caller: OptionalCaller
) -> Response:
    """Revoke a key."""
    if caller is None:
        return login_redirect(request)
    await verify_csrf(request, caller, ctx)
    await ctx.accounts.revoke_api_key(caller.user.id, key_id)
    response = RedirectResponse("/account/keys", status_code=303)
    flash(request, response, "The key was revoked.", "success")
    return response


@router.get("/connections", response_class=HTMLResponse)
async def connections_page(request: Request, ctx: AccountsDep, caller: OptionalCaller) -> Response:
    """Your connections with their status."""
    if caller is None:
        return login_redirect(request)
    rows = await ctx.connections.list(caller.user.id)
    return await _page(
        request,
        "accounts/connections.html",
        caller,
        ctx,
        {"connections": rows, "oauth_enabled": ctx.oauth_flow is not None},
    )


async def _teams(ctx: Any, user_id: str) -> list[Any]:
    async with read_transaction(ctx.sessions) as session:
        return list(await TeamRepository(session).teams_of(user_id))


@router.get("/connections/new", response_class=HTMLResponse)
async def new_connection(
    request: Request, ctx: AccountsDep, caller: OptionalCaller, kind: str = ""
) -> Response:
    """Step 1 (pick the kind) or step 2 (details) of the setup."""
    if caller is None:
        return login_redirect(request)
    chosen = kind if kind in KIND_LABELS and kind != ConnectionKind.OAUTH.value else ""
    return await _page(
        request,
        "accounts/new_connection.html",
        caller,
        ctx,
        {
            "kind": chosen,
            "form": {},
            "error": None,
            "teams": await _teams(ctx, caller.user.id),
            "oauth_enabled": ctx.oauth_flow is not None,
        },
    )


def _input_from(form: Any) -> ConnectionInput:
    kind = str(form.get("kind") or "")
    if kind not in KIND_LABELS:
        kind = ConnectionKind.CLOUD_TOKEN.value
    return ConnectionInput(
        name=str(form.get("name") or ""),
        kind=ConnectionKind(kind),
        base_url=str(form.get("base_url") or ""),
        email=str(form.get("email") or "") or None,
        secret=str(form.get("secret") or ""),
        team_id=str(form.get("team_id") or "") or None,
    )


@router.post("/connections/new/test", response_class=HTMLResponse)
async def test_new_connection(
    request: Request, ctx: AccountsDep, caller: OptionalCaller
) -> Response:
    """htmx step 3: test the entered details without saving anything."""
    if caller is None:
        return login_redirect(request)
    await verify_csrf(request, caller, ctx)
    data = _input_from(await request.form())
    try:
        outcome = await ctx.connections.test_input(data)
    except JirabridgeError as exc:
        outcome = TestOutcome(ok=False, verdict="invalid", message=exc.message)
    return render(request, "accounts/_test_result.html", {"outcome": outcome})


@router.post("/connections/new", response_class=HTMLResponse)
async def save_new_connection(
    request: Request, ctx: AccountsDep, caller: OptionalCaller
) -> Response:
    """Step 4: test and save; a failing test saves nothing unless "save anyway" is ticked."""
    if caller is None:
        return login_redirect(request)
    await verify_csrf(request, caller, ctx)
    form = await request.form()
    data = _input_from(form)
    try:
        row, outcome = await ctx.connections.create(
            caller.user.id, data, force=form.get("force") == "1"
        )
    except JirabridgeError as exc:
        return await _page(
            request,
            "accounts/new_connection.html",
            caller,
            ctx,
            {
                "kind": data.kind.value,
                "form": {"name": data.name, "base_url": data.base_url, "email": data.email},
                "error": exc.message,
                "teams": await _teams(ctx, caller.user.id),
                "oauth_enabled": ctx.oauth_flow is not None,
            },
            status_code=422,
        )
    response = RedirectResponse("/connections", status_code=303)
    if outcome is not None and not outcome.ok:
        flash(request, response, f"Saved {row.name}, but its test failed: {outcome.message}")
    else:
        flash(request, response, f"Connected {row.name}.", "success")
    return response


@router.post("/connections/{connection_id}/test", response_class=HTMLResponse)
async def test_connection(
    connection_id: str, request: Request, ctx: AccountsDep, caller: OptionalCaller
) -> Response:
    """htmx: test a saved connection; answers its status cell."""
    if caller is None:
        return login_redirect(request)
    await verify_csrf(request, caller, ctx)
    await ctx.connections.test(caller.user.id, connection_id)
    row = await ctx.connections.get(caller.user.id, connection_id)
    return render(request, "accounts/_status.html", {"c": row})


@router.post("/connections/{connection_id}/delete")
async def delete_connection(
    connection_id: str, request: Request, ctx: AccountsDep, caller: OptionalCaller
) -> Response:
    """Delete a connection."""
    if caller is None:
        return login_redirect(request)
    await verify_csrf(request, caller, ctx)
    await ctx.connections.delete(caller.user.id, connection_id)
    response = RedirectResponse("/connections", status_code=303)
    flash(request, response, "The connection was deleted.", "success")
    return response


@router.post("/connections/{connection_id}/disconnect")
async def disconnect_connection(
    connection_id: str, request: Request, ctx: AccountsDep, caller: OptionalCaller
) -> Response:
    """Remove an OAuth connection's tokens."""
    if caller is None:
        return login_redirect(request)
    await verify_csrf(request, caller, ctx)
    row = await ctx.connections.disconnect(caller.user.id, connection_id)
    response = RedirectResponse("/connections", status_code=303)
    flash(request, response, f"Disconnected {row.name}; its tokens were removed.", "success")
    return response


@router.post("/connections/oauth/start")
async def oauth_start(request: Request, ctx: AccountsDep, caller: OptionalCaller) -> Response:
    """Send the browser to Atlassian's consent page."""
    if caller is None or caller.session_token is None:
        return login_redirect(request)
    await verify_csrf(request, caller, ctx)
    if ctx.oauth_flow is None:
        raise PermissionDeniedError("OAuth is not configured on this server")
    form = await request.form()
    team_id = str(form.get("team_id") or "") or None
    url = await ctx.oauth_flow.start(caller.user, caller.session_token, team_id=team_id)
    return RedirectResponse(url, status_code=303)


@router.get("/connections/oauth/callback")
async def oauth_callback(
    request: Request,
    ctx: AccountsDep,
    caller: OptionalCaller,
    state: str | None = None,
    code: str | None = None,
    error: str | None = None,
) -> Response:
    """Atlassian sends the browser back here."""
    if caller is None or caller.session_token is None:
        return login_redirect(request)
    if ctx.oauth_flow is None:
        raise PermissionDeniedError("OAuth is not configured on this server")
    response = RedirectResponse("/connections", status_code=303)
    try:
        result = await ctx.oauth_flow.callback(
            caller.user, caller.session_token, state=state, code=code, error=error
        )
    except JirabridgeError as exc:  # bad state, denied, exchange failed: say why
        flash(request, response, f"Nothing was connected: {exc.message}", "error")
        return response
    if result.connection is not None:
        flash(request, response, f"Connected {result.connection.name}.", "success")
        return response
    return RedirectResponse(f"/connections/oauth/sites/{result.pending_grant_id}", status_code=303)


@router.get("/connections/oauth/sites/{grant_id}", response_class=HTMLResponse)
async def choose_site_page(
    grant_id: str, request: Request, ctx: AccountsDep, caller: OptionalCaller
) -> Response:
    """Pick one of several sites the grant reaches."""
    if caller is None:
        return login_redirect(request)
    if ctx.oauth_flow is None:
        raise PermissionDeniedError("OAuth is not configured on this server")
    sites = await ctx.oauth_flow.pending_sites(caller.user, grant_id)
    return await _page(
        request, "accounts/choose_site.html", caller, ctx, {"sites": sites, "grant_id": grant_id}
    )


@router.post("/connections/oauth/sites/{grant_id}")
async def choose_site(
    grant_id: str, request: Request, ctx: AccountsDep, caller: OptionalCaller
) -> Response:
    """Connect the chosen site."""
    if caller is None:
        return login_redirect(request)
    await verify_csrf(request, caller, ctx)
    if ctx.oauth_flow is None:
        raise PermissionDeniedError("OAuth is not configured on this server")
    form = await request.form()
    row = await ctx.oauth_flow.choose_site(caller.user, grant_id, str(form.get("cloud_id") or ""))
    response = RedirectResponse("/connections", status_code=303)
    flash(request, response, f"Connected {row.name}.", "success")
    return response


@router.get("/admin/audit", response_class=HTMLResponse)
async def audit_page(
    request: Request,
    ctx: AccountsDep,
    caller: OptionalCaller,
    offset: int = 0,
    action: str | None = None,
) -> Response:
    """The audit log (admins only)."""
    if caller is None:
        return login_redirect(request)
    if not caller.is_admin:
        raise PermissionDeniedError("the audit log is for administrators")
    limit = 50
    async with read_transaction(ctx.sessions) as session:
        page = await AuditLog(session).page_unscoped(
            limit=limit, offset=max(0, offset), action_prefix=action or None
        )
    return await _page(
        request,
        "accounts/audit.html",
        caller,
        ctx,
        {"page": page, "offset": max(0, offset), "limit": limit, "action": action},
    )
