"""The simulator's OAuth 2.0 (3LO) authorization server and its ``/ex/jira/{cloudId}`` gateway.

It behaves as auth.atlassian.com and api.atlassian.com do for a Jira app:

- ``GET /authorize`` shows a consent page where the user picks among several sites (or, for
  tests, consents at once: ``consent=auto``, ``sites=<cloudId,...>``, ``consent=deny``) and
  redirects back with ``code`` and ``state`` (or ``error=access_denied``);
- ``POST /oauth/token`` (JSON or form body) answers the ``authorization_code`` and
  ``refresh_token`` grants. Refresh tokens rotate on every use; a replaced refresh token keeps
  working for a leeway (10 minutes) and, reused after it, revokes the whole grant. A refresh
  token unused for 90 days (or older than 365 days) is expired. Errors use Atlassian's
  ``{"error": ..., "error_description": ...}`` shape; a bad or dead grant answers 403
  ``invalid_grant``, as Atlassian does;
- ``GET /oauth/token/accessible-resources`` lists the grant's sites;
- :class:`OAuthGatewayMiddleware` serves ``/ex/jira/{cloudId}/...``: it checks the bearer
  access token and that the cloud id belongs to the grant, places the principal in
  ``scope["state"]["sim_principal"]`` and hands the request on with the path rewritten to
  ``/...``;
- ``GET /_sim/oauth`` shows every grant with its refresh count, so tests can assert "exactly
  one refresh".

Time comes from :class:`~jirabridge.sim.clock.SimClock`, so expiry is tested by advancing it.
Tokens are opaque random strings; they never appear in reprs or logs.
"""

from __future__ import annotations

import dataclasses
import html
import json
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from jirabridge.sim.asgi_json import ASGIApp, Receive, Scope, Send, send_json
from jirabridge.sim.clock import SimClock

__all__ = [
    "AUDIENCE",
    "OAuthClient",
    "OAuthConfig",
    "OAuthGatewayMiddleware",
    "OAuthServer",
    "OAuthSite",
    "principal_from_scope",
]

#: The only audience Atlassian accepts for Jira 3LO apps.
AUDIENCE = "api.atlassian.com"
_GATEWAY_PREFIX = "/ex/jira/"
_UNAUTHORIZED = {"code": 401, "message": "Unauthorized"}


@dataclass(frozen=True)
class OAuthClient:
    """A registered OAuth app. ``redirect_uris`` empty means any callback URL is accepted."""

    client_id: str
    client_secret: str = field(repr=False)
    name: str = "Jirabridge test app"
    redirect_uris: tuple[str, ...] = ()


@dataclass(frozen=True)
class OAuthSite:
    """A Jira Cloud site the user may grant access to."""

    cloud_id: str
    name: str
    url: str
    avatar_url: str = (
        "https://site-admin-avatar-cdn.prod.public.atl-paas.net/avatars/240/rocket.png"
    )


@dataclass
class OAuthConfig:
    """Registered apps, the sites on offer, and the lifetimes (seconds on the SimClock)."""

    clients: Sequence[OAuthClient] = ()
    sites: Sequence[OAuthSite] = ()
    #: The account that consents when the authorize request does not name one.
    default_account_id: str = ""
    access_token_ttl: float = 3600.0
    code_ttl: float = 600.0
    refresh_reuse_leeway: float = 600.0
    refresh_inactivity_ttl: float = 90 * 86400.0
    refresh_absolute_ttl: float = 365 * 86400.0
    #: Skip the consent page and grant every site (for unattended runs).
    auto_consent: bool = False


@dataclass
class _Grant:
    id: int
    client_id: str
    account_id: str
    cloud_ids: tuple[str, ...]
    scopes: tuple[str, ...]
    created_at: float
    last_refresh_at: float
    refresh_count: int = 0
    revoked_reason: str | None = None


@dataclass
class _Code:
    grant_template: tuple[str, str, tuple[str, ...], tuple[str, ...]]
    redirect_uri: str
    expires_at: float
    used_by_grant: int | None = None


@dataclass
class _RefreshToken:
    grant_id: int
    replaced_at: float | None = None


@dataclass
class _AccessToken:
    grant_id: int
    expires_at: float


class OAuthError(Exception):
    """An OAuth error answered in Atlassian's shape."""

    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.error = error
        self.description = description

    def response(self) -> JSONResponse:
        return JSONResponse(
            {"error": self.error, "error_description": self.description}, status_code=self.status
        )


def principal_from_scope(scope: Mapping[str, Any]) -> dict[str, Any] | None:
    """The principal the gateway placed in the ASGI scope, if any."""
    state = scope.get("state")
    if isinstance(state, Mapping):
        principal = state.get("sim_principal")
        if isinstance(principal, dict):
            return principal
    return None


class OAuthServer:
    """The state and the endpoints of the simulated auth.atlassian.com."""

    def __init__(self, config: OAuthConfig, clock: SimClock) -> None:
        self.config = config
        self.clock = clock
        self._clients = {c.client_id: c for c in config.clients}
        self._sites = {s.cloud_id: s for s in config.sites}
        self._codes: dict[str, _Code] = {}
        self._grants: dict[int, _Grant] = {}
        self._refresh_tokens: dict[str, _RefreshToken] = {}
        self._access: dict[str, _AccessToken] = {}
        self._next_grant = 1

    # -- lookups other parts of the simulator use ------------------------------------------

    def client_secret(self, client_id: str) -> str | None:
        """The registered secret of ``client_id`` (dynamic webhooks are signed with it)."""
        client = self._clients.get(client_id)
        return client.client_secret if client else None

    def site(self, cloud_id: str) -> OAuthSite | None:
        """The site with this cloud id, if the simulator offers it."""
        return self._sites.get(cloud_id)

    def move_site(self, cloud_id: str, url: str) -> None:
        """Change where a site says it lives (the simulator learns its port late)."""
        site = self._sites.get(cloud_id)
        if site is not None:
            self._sites[cloud_id] = dataclasses.replace(site, url=url)

    def principal_for(self, access_token: str, cloud_id: str | None) -> dict[str, Any] | None:
        """The principal behind a live access token (None if dead or not valid for the site)."""
        grant = self._live_grant_for_access(access_token)
        if grant is None:
            return None
        if cloud_id is not None and cloud_id not in grant.cloud_ids:
            return None
        return {
            "account_id": grant.account_id,
            "auth_kind": "oauth",
            "cloud_id": cloud_id,
            "scopes": list(grant.scopes),
            "client_id": grant.client_id,
            "grant_id": grant.id,
        }

    def _live_grant_for_access(self, access_token: str) -> _Grant | None:
        token = self._access.get(access_token)
        if token is None or token.expires_at <= self.clock.time():
            return None
        grant = self._grants.get(token.grant_id)
        if grant is None or grant.revoked_reason is not None:
            return None
        return grant

    def revoke_grant(self, grant_id: int, reason: str = "revoked by the user") -> None:
        """Revoke a grant as a user does under "Connected apps"; all its tokens die."""
        grant = self._grants.get(grant_id)
        if grant is not None and grant.revoked_reason is None:
            grant.revoked_reason = reason

    def reset(self) -> None:
        """Forget every code, grant and token (registered apps and sites stay)."""
        self._codes.clear()
        self._grants.clear()
        self._refresh_tokens.clear()
        self._access.clear()
        self._next_grant = 1

    def snapshot(self) -> dict[str, Any]:
        """Grants and their refresh counts, for ``/_sim/oauth`` (no token values)."""
        grants = [
            {
                "id": g.id,
                "clientId": g.client_id,
                "accountId": g.account_id,
                "cloudIds": list(g.cloud_ids),
                "scopes": list(g.scopes),
                "refreshCount": g.refresh_count,
                "revoked": g.revoked_reason is not None,
                "revokedReason": g.revoked_reason,
                "createdAt": g.created_at,
            }
            for g in self._grants.values()
        ]
        return {
            "grants": grants,
            "refreshCount": sum(g.refresh_count for g in self._grants.values()),
        }

    # -- authorize -----------------------------------------------------------------------------

    async def authorize(self, request: Request) -> Response:
        """``GET|POST /authorize``: the consent page, or the redirect back to the app."""
        params: dict[str, Any] = dict(request.query_params)
        chosen: list[str] = [s for s in request.query_params.getlist("site") if s]
        if request.method == "POST":
            form = await request.form()
            params.update({k: v for k, v in form.items() if isinstance(v, str)})
            chosen = [v for v in form.getlist("site") if isinstance(v, str)]
        client = self._clients.get(str(params.get("client_id", "")))
        redirect_uri = str(params.get("redirect_uri", ""))
        problem = self._authorize_problem(params, client, redirect_uri)
        if problem:
            return HTMLResponse(
                _page("Something went wrong", f"<p>{html.escape(problem)}</p>"), 400
            )
        state = params.get("state")
        if params.get("response_type") != "code":
            return _redirect(redirect_uri, error="unsupported_response_type", state=state)
        decision = str(params.get("consent") or params.get("decision") or "")
        if decision == "deny":
            return _redirect(redirect_uri, error="access_denied", state=state)
        if params.get("sites"):
            chosen = [s.strip() for s in str(params["sites"]).split(",") if s.strip()]
        elif decision == "auto" or (self.config.auto_consent and decision != "accept"):
            chosen = list(self._sites)
        elif decision != "accept":
            return self._consent_page(params, client)
        unknown = [c for c in chosen if c not in self._sites]
        if not chosen or unknown:
            return _redirect(redirect_uri, error="access_denied", state=state)
        account_id = str(params.get("account_id") or self.config.default_account_id)
        assert client is not None  # checked by _authorize_problem
        code = secrets.token_urlsafe(24)
        scopes = tuple(str(params.get("scope", "")).split())
        self._codes[code] = _Code(
            grant_template=(client.client_id, account_id, tuple(chosen), scopes),
            redirect_uri=redirect_uri,
            expires_at=self.clock.time() + self.config.code_ttl,
        )
        return _redirect(redirect_uri, code=code, state=state)

    def _authorize_problem(
        self, params: Mapping[str, Any], client: OAuthClient | None, redirect_uri: str
    ) -> str | None:
        if client is None:
            return "Invalid client_id: this app is not registered."
        if not redirect_uri:
            return "The redirect_uri parameter is missing."
        if client.redirect_uris and redirect_uri not in client.redirect_uris:
            return "The redirect_uri does not match the app's callback URL."
        if params.get("audience") != AUDIENCE:
            return f"The audience parameter must be {AUDIENCE}."
        if not str(params.get("scope", "")).strip():
            return "The scope parameter is missing."
        return None

    def _consent_page(self, params: Mapping[str, Any], client: OAuthClient | None) -> Response:
        hidden = "".join(
            f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(str(v))}">'
            for k, v in params.items()
            if k not in ("site", "decision", "consent")
        )
        boxes = "".join(
            f'<label><input type="checkbox" name="site" value="{html.escape(s.cloud_id)}"'
            f"{' checked' if i == 0 else ''}> {html.escape(s.name)} ({html.escape(s.url)})"
            "</label><br>"
            for i, s in enumerate(self._sites.values())
        )
        name = html.escape(client.name if client else "")
        scopes = html.escape(str(params.get("scope", "")))
        body = (
            f"<p><b>{name}</b> is requesting access to your Atlassian account.</p>"
            f"<p>Scopes: <code>{scopes}</code></p>"
            f'<form method="post" action="/authorize">{hidden}'
            f"<fieldset><legend>Use app on</legend>{boxes}</fieldset>"
            '<button name="decision" value="accept">Accept</button> '
            '<button name="decision" value="deny">Deny</button></form>'
        )
        return HTMLResponse(_page("Authorize app", body))

    # -- token ---------------------------------------------------------------------------------

    async def token(self, request: Request) -> Response:
        """``POST /oauth/token``: the two grants, JSON or form-encoded body."""
        try:
            params = await _token_params(request)
            client = self._authenticate_client(params, request)
            grant_type = params.get("grant_type")
            if grant_type == "authorization_code":
                return JSONResponse(self._exchange_code(params, client))
            if grant_type == "refresh_token":
                return JSONResponse(self._refresh(params, client))
            raise OAuthError(400, "unsupported_grant_type", "Unsupported grant type.")
        except OAuthError as exc:
            return exc.response()

    def _authenticate_client(self, params: Mapping[str, str], request: Request) -> OAuthClient:
        client_id = params.get("client_id", "")
        client_secret = params.get("client_secret", "")
        client = self._clients.get(client_id)
        if client is None or not secrets.compare_digest(
            client.client_secret.encode(), client_secret.encode()
        ):
            raise OAuthError(401, "access_denied", "Unauthorized")
        return client

    def _exchange_code(self, params: Mapping[str, str], client: OAuthClient) -> dict[str, Any]:
        code = self._codes.get(params.get("code", ""))
        now = self.clock.time()
        if code is None or code.grant_template[0] != client.client_id:
            raise OAuthError(403, "invalid_grant", "Invalid authorization code")
        if code.used_by_grant is not None:
            # A replayed code revokes what it issued (RFC 6749 §4.1.2).
            self.revoke_grant(code.used_by_grant, "authorization code reused")
            raise OAuthError(403, "invalid_grant", "Invalid authorization code")
        if code.expires_at <= now:
            raise OAuthError(403, "invalid_grant", "Authorization code expired")
        if params.get("redirect_uri", code.redirect_uri) != code.redirect_uri:
            raise OAuthError(403, "invalid_grant", "redirect_uri does not match")
        client_id, account_id, cloud_ids, scopes = code.grant_template
        grant = _Grant(
            id=self._next_grant,
            client_id=client_id,
            account_id=account_id,
            cloud_ids=cloud_ids,
            scopes=scopes,
            created_at=now,
            last_refresh_at=now,
        )
        self._next_grant += 1
        self._grants[grant.id] = grant
        code.used_by_grant = grant.id
        return self._issue(grant, with_refresh="offline_access" in scopes)

    def _refresh(self, params: Mapping[str, str], client: OAuthClient) -> dict[str, Any]:
        value = params.get("refresh_token", "")
        token = self._refresh_tokens.get(value)
        grant = self._grants.get(token.grant_id) if token else None
        if token is None or grant is None or grant.client_id != client.client_id:
            raise OAuthError(403, "invalid_grant", "Unknown or invalid refresh token.")
        if grant.revoked_reason is not None:
            raise OAuthError(403, "invalid_grant", "Unknown or invalid refresh token.")
        now = self.clock.time()
        if (
            now - grant.last_refresh_at > self.config.refresh_inactivity_ttl
            or now - grant.created_at > self.config.refresh_absolute_ttl
        ):
            self.revoke_grant(grant.id, "refresh token expired")
            raise OAuthError(403, "invalid_grant", "Unknown or invalid refresh token.")
        if token.replaced_at is not None and now - token.replaced_at > (
            self.config.refresh_reuse_leeway
        ):
            self.revoke_grant(grant.id, "replaced refresh token reused after the leeway")
            raise OAuthError(403, "invalid_grant", "Unknown or invalid refresh token.")
        if token.replaced_at is None:
            token.replaced_at = now
        grant.refresh_count += 1
        grant.last_refresh_at = now
        return self._issue(grant, with_refresh=True)

    def _issue(self, grant: _Grant, *, with_refresh: bool) -> dict[str, Any]:
        access = secrets.token_urlsafe(32)
        ttl = self.config.access_token_ttl
        self._access[access] = _AccessToken(grant.id, self.clock.time() + ttl)
        body: dict[str, Any] = {
            "access_token": access,
            "expires_in": int(ttl),
            "token_type": "Bearer",
            "scope": " ".join(grant.scopes),
        }
        if with_refresh:
            refresh = secrets.token_urlsafe(32)
            self._refresh_tokens[refresh] = _RefreshToken(grant.id)
            body["refresh_token"] = refresh
        return body

    # -- resources and inspection --------------------------------------------------------------

    async def accessible_resources(self, request: Request) -> Response:
        """``GET /oauth/token/accessible-resources``: the sites of the bearer token's grant."""
        grant = self._live_grant_for_access(_bearer(request.headers.get("authorization", "")))
        if grant is None:
            return JSONResponse(_UNAUTHORIZED, status_code=401)
        body = [
            {
                "id": site.cloud_id,
                "url": site.url,
                "name": site.name,
                "scopes": list(grant.scopes),
                "avatarUrl": site.avatar_url,
            }
            for site in (self._sites[c] for c in grant.cloud_ids if c in self._sites)
        ]
        return JSONResponse(body)

    async def inspect(self, request: Request) -> Response:
        """``GET /_sim/oauth``: grants and refresh counts (never token values)."""
        return JSONResponse(self.snapshot())

    async def inspect_revoke(self, request: Request) -> Response:
        """``POST /_sim/oauth/grants/{id}/revoke``: revoke as the user would in their profile."""
        grant_id = int(request.path_params["grant_id"])
        if grant_id not in self._grants:
            return JSONResponse({"errorMessages": ["No such grant."], "errors": {}}, 404)
        self.revoke_grant(grant_id)
        return Response(status_code=204)

    def routes(self) -> list[BaseRoute]:
        """The server's Starlette routes (authorize, token, resources, ``/_sim/oauth``)."""
        return [
            Route("/authorize", self.authorize, methods=["GET", "POST"]),
            Route("/oauth/token", self.token, methods=["POST"]),
            Route("/oauth/token/accessible-resources", self.accessible_resources, methods=["GET"]),
            Route("/_sim/oauth", self.inspect, methods=["GET"]),
            Route(
                "/_sim/oauth/grants/{grant_id:int}/revoke", self.inspect_revoke, methods=["POST"]
            ),
        ]


class OAuthGatewayMiddleware:
    """Serves ``/ex/jira/{cloudId}/...`` as api.atlassian.com does, in front of the site's app.

    A request there must carry a live bearer access token whose grant includes ``cloudId``;
    otherwise it gets 401 ``{"code": 401, "message": "Unauthorized"}``. A good request goes on
    with ``scope["state"]["sim_principal"]`` set and the path rewritten to ``/...``.
    """

    def __init__(self, app: ASGIApp, server: OAuthServer) -> None:
        self.app = app
        self.server = server

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if scope["type"] != "http" or not path.startswith(_GATEWAY_PREFIX):
            await self.app(scope, receive, send)
            return
        cloud_id, _, rest = path[len(_GATEWAY_PREFIX) :].partition("/")
        if not rest:
            await send_json(send, 404, {"code": 404, "message": "Not Found"})
            return
        token = _bearer(_header(scope, b"authorization"))
        principal = self.server.principal_for(token, cloud_id) if token else None
        if principal is None:
            await send_json(send, 401, _UNAUTHORIZED, [("www-authenticate", "Bearer")])
            return
        state = scope.setdefault("state", {})
        state["sim_principal"] = principal
        new_path = "/" + rest
        scope["path"] = new_path
        scope["raw_path"] = new_path.encode()
        await self.app(scope, receive, send)


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return ""


def _bearer(header: str) -> str:
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" else ""


async def _token_params(request: Request) -> dict[str, str]:
    raw = await request.body()
    content_type = request.headers.get("content-type", "")
    if "json" in content_type:
        try:
            data = json.loads(raw or b"{}")
        except ValueError:
            raise OAuthError(400, "invalid_request", "The body is not valid JSON.") from None
        if not isinstance(data, dict):
            raise OAuthError(400, "invalid_request", "The body must be a JSON object.")
        return {str(k): str(v) for k, v in data.items() if v is not None}
    return dict(parse_qsl(raw.decode("utf-8", "replace")))


def _redirect(redirect_uri: str, **params: Any) -> RedirectResponse:
    parts = urlsplit(redirect_uri)
    query = parse_qsl(parts.query)
    query.extend((k, str(v)) for k, v in params.items() if v is not None)
    return RedirectResponse(urlunsplit(parts._replace(query=urlencode(query))), status_code=302)


def _page(title: str, body: str) -> str:
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"</head><body><h1>{html.escape(title)}</h1>{body}</body></html>"
    )
