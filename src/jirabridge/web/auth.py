"""Who is calling: login sessions (cookie) and API keys (``Authorization: Bearer jb_...``),
and CSRF protection for cookie-authenticated requests.

A browser request that changes something must carry the session's CSRF token, either in the
``X-CSRF-Token`` header (htmx and fetch; templates put it in ``hx-headers``) or in the
``csrf_token`` form field. API-key requests need none: a browser never adds that header on its
own. The session cookie is ``HttpOnly``, ``SameSite=Lax`` and ``Secure`` when served over https.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request, Response
from fastapi.responses import RedirectResponse

from jirabridge.errors import NotAuthenticatedError, PermissionDeniedError
from jirabridge.http.governor_store import GovernorStore, MemoryGovernorStore
from jirabridge.service.account_wiring import AccountsContext, build_accounts_context
from jirabridge.service.api_keys import ApiKeyScope, require_scope
from jirabridge.service.api_limits import ApiRateLimiter, ApiRateLimits
from jirabridge.store.account_models import UserRole, UserRow
from jirabridge.web.deps import get_runtime

__all__ = [
    "CSRF_FIELD",
    "CSRF_HEADER",
    "SESSION_COOKIE",
    "AccountsDep",
    "Caller",
    "clear_session_cookie",
    "get_accounts",
    "get_api_limiter",
    "login_redirect",
    "optional_caller",
    "reader_id",
    "require_api_caller",
    "set_session_cookie",
    "verify_csrf",
    "writer_id",
]

SESSION_COOKIE = "jb_session"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def get_accounts(request: Request) -> AccountsContext:
    """The accounts services of this app (built on first use from the runtime)."""
    context: AccountsContext | None = getattr(request.app.state, "accounts", None)
    if context is None:
        runtime = get_runtime(request)
        context = build_accounts_context(
            runtime.settings, runtime.sessions, governor_store=runtime.governor_store
        )
        request.app.state.accounts = context
    return context


AccountsDep = Annotated[AccountsContext, Depends(get_accounts)]


def get_api_limiter(request: Request) -> ApiRateLimiter | None:
    """The limiter of this app's API and login form (built on first use), or ``None`` when the
    app has no settings to build one from (routers mounted alone in tests)."""
    limiter: ApiRateLimiter | None = getattr(request.app.state, "api_limiter", None)
    if limiter is not None:
        return limiter
    settings = getattr(request.app.state, "settings", None)
    if settings is None:
        return None
    # The governor's store: shared by every process when governor_store_url is set.
    store: GovernorStore | None = getattr(
        getattr(request.app.state, "runtime", None), "governor_store", None
    )
    limiter = ApiRateLimiter(store or MemoryGovernorStore(), ApiRateLimits.from_settings(settings))
    request.app.state.api_limiter = limiter
    return limiter


@dataclass(frozen=True)
class Caller:
    """The authenticated user of a request and how they authenticated."""

    user: UserRow
    via: str
    scopes: frozenset[ApiKeyScope]
    session_token: str | None = None
    csrf_token: str | None = None
    api_key_id: str | None = None

    @property
    def is_admin(self) -> bool:
        """Whether the user is an administrator."""
        return self.user.role == UserRole.ADMIN

    def require(self, scope: ApiKeyScope) -> None:
        """Raise :class:`PermissionDeniedError` unless the caller has ``scope``."""
        require_scope(self.scopes, scope)


def reader_id(caller: Caller) -> str:
    """The caller's user id, for a request that reads (403 without the ``read`` scope)."""
    caller.require(ApiKeyScope.READ)
    return caller.user.id


def writer_id(caller: Caller) -> str:
    """The caller's user id, for a request that writes (403 without the ``write`` scope)."""
    caller.require(ApiKeyScope.WRITE)
    return caller.user.id


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


async def optional_caller(request: Request, ctx: AccountsDep) -> Caller | None:
    """The caller, if a valid API key or session came with the request."""
    bearer = _bearer(request)
    if bearer is not None:
        principal = await ctx.accounts.authenticate_api_key(bearer)
        if principal is None:
            raise NotAuthenticatedError("the API key is unknown, revoked or expired")
        return Caller(
            user=principal.user,
            via="api_key",
            scopes=principal.scopes,
            api_key_id=principal.api_key_id,
        )
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    user = await ctx.accounts.user_for_session(token)
    if user is None:
        return None
    scopes = (
        frozenset(ApiKeyScope)
        if user.role == UserRole.ADMIN
        else frozenset({ApiKeyScope.READ, ApiKeyScope.WRITE})
    )
    return Caller(
        user=user,
        via="session",
        scopes=scopes,
        session_token=token,
        csrf_token=ctx.accounts.csrf_token(token),
    )


OptionalCallerDep = Annotated[Caller | None, Depends(optional_caller)]


async def verify_csrf(request: Request, caller: Caller, ctx: AccountsContext) -> None:
    """Refuse a state-changing session request without the session's CSRF token, and a
    page's form posted with a read-only API key.

    API keys need no CSRF token (a browser never sends them by itself). ``/api/*`` routes check
    a key's scope themselves (some POSTs only read, like the key explainer); every other POST
    is a UI form that changes something, so it needs the ``write`` scope here.
    """
    if request.method in _SAFE_METHODS:
        return
    if caller.via != "session":
        if not request.url.path.startswith("/api/"):
            caller.require(ApiKeyScope.WRITE)
        return
    assert caller.session_token is not None
    presented = request.headers.get(CSRF_HEADER)
    if presented is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        form = await request.form()
        value = form.get(CSRF_FIELD)
        presented = value if isinstance(value, str) else None
    if not ctx.accounts.check_csrf(caller.session_token, presented):
        raise PermissionDeniedError("missing or wrong CSRF token; reload the page and try again")


async def require_api_caller(
    request: Request, caller: OptionalCallerDep, ctx: AccountsDep
) -> Caller:
    """The caller of an API request (401 without one), rate-limited per user and key (429),
    CSRF-checked for sessions."""
    if caller is None:
        raise NotAuthenticatedError("log in or send an API key (Authorization: Bearer jb_...)")
    limiter = get_api_limiter(request)
    if limiter is not None:
        await limiter.check_api(user_id=caller.user.id, api_key_id=caller.api_key_id)
    await verify_csrf(request, caller, ctx)
    return caller


ApiCallerDep = Annotated[Caller, Depends(require_api_caller)]


def login_redirect(request: Request) -> RedirectResponse:
    """Send the browser to the login page, coming back here afterwards."""
    target = request.url.path
    return RedirectResponse(f"/login?next={target}", status_code=303)


def set_session_cookie(response: Response, token: str, *, secure: bool) -> None:
    """Put the session token in a hardened cookie."""
    response.set_cookie(
        SESSION_COOKIE,
        token,
        httponly=True,
        samesite="lax",
        secure=secure,
        max_age=7 * 24 * 3600,
        path="/",
    )


def clear_session_cookie(response: Response) -> None:
    """Remove the session cookie."""
    response.delete_cookie(SESSION_COOKIE, path="/")
