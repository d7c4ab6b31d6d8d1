"""HTTP plumbing shared by the simulator's routes: context, auth, JSON, the endpoint wrapper."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match, Route
from starlette.types import Scope

from jirabridge.sim.errors import SimHTTPError, jira_error_body
from jirabridge.sim.params import ParamRule, check_query
from jirabridge.sim.render import Renderer
from jirabridge.sim.state import SimSite

__all__ = [
    "INVALID_PAYLOAD",
    "Ctx",
    "Principal",
    "SimRoute",
    "authenticate",
    "endpoint",
    "json_response",
]


@dataclass(frozen=True)
class Principal:
    """Who is calling: the user's site identity and how they authenticated."""

    user_id: str
    auth_kind: str
    cloud_id: str | None = None
    scopes: tuple[str, ...] = ()


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A compact JSON response (``None`` body -> empty, as Jira's 204s)."""
    if body is None:
        return Response(status_code=status, headers=headers)
    return Response(
        json.dumps(body, separators=(",", ":"), ensure_ascii=False),
        status_code=status,
        media_type="application/json;charset=UTF-8",
        headers=headers,
    )


INVALID_PAYLOAD = "Invalid request payload. Refer to the REST API documentation and try again."
_LONG_PARAMS = frozenset({"since", "startedAfter", "startedBefore"})
_NOT_AUTHENTICATED = "You are not authenticated. Authentication required to perform this operation."


def _upstream_principal(raw: Any) -> Principal | None:
    if raw is None:
        return None
    if isinstance(raw, Principal):
        return raw

    def get(name: str) -> Any:
        return raw.get(name) if isinstance(raw, dict) else getattr(raw, name, None)

    account = get("account_id") or get("accountId") or get("user_id")
    if not account:
        return None
    scopes = get("scopes") or ()
    if isinstance(scopes, str):
        scopes = tuple(scopes.split())
    return Principal(
        user_id=str(account),
        auth_kind=str(get("auth_kind") or get("kind") or "oauth"),
        cloud_id=get("cloud_id") or get("cloudId"),
        scopes=tuple(scopes),
    )


def authenticate(request: Request, site: SimSite, *, optional: bool = False) -> Principal | None:
    """The caller: an upstream principal (OAuth gateway) first, then basic, then bearer PAT (DC).

    401 in Jira's shape when credentials are missing or wrong (unless ``optional`` and absent).
    """
    state = request.scope.get("state") or {}
    upstream = _upstream_principal(state.get("sim_principal"))
    if upstream is not None:
        if upstream.user_id not in site.users:
            raise SimHTTPError(401, [_NOT_AUTHENTICATED])
        return upstream
    header = request.headers.get("authorization")
    if not header:
        if optional:
            return None
        raise SimHTTPError(401, [_NOT_AUTHENTICATED])
    cached = site.auth_cache.get(header)
    if isinstance(cached, Principal):
        return cached
    principal = _from_header(header, site)
    if principal is None:
        raise SimHTTPError(401, [_NOT_AUTHENTICATED])
    # Credentials only change with the user set, which clears the cache (hot path: no decode).
    if len(site.auth_cache) < 10_000:
        site.auth_cache[header] = principal
    return principal


def _from_header(header: str, site: SimSite) -> Principal | None:
    scheme, _, value = header.partition(" ")
    scheme = scheme.lower()
    if scheme == "basic":
        try:
            login, sep, secret = (
                base64.b64decode(value.strip(), validate=True).decode().partition(":")
            )
        except (binascii.Error, UnicodeDecodeError):
            return None
        user = site.user_by_login(login) if sep else None
        if user is not None and user.active:
            ok = secret == user.api_token if site.is_cloud else secret == user.password
            if ok:
                return Principal(site.user_id(user), "basic")
    elif scheme == "bearer" and not site.is_cloud:
        token = value.strip()
        for user in site.users.values():
            if token and token in user.pats and user.active:
                return Principal(site.user_id(user), "pat")
    return None


@dataclass
class Ctx:
    """One request as a handler sees it."""

    request: Request
    site: SimSite
    version: str
    principal: Principal | None
    body: Any = None
    params: dict[str, str] = field(default_factory=dict)
    path: dict[str, str] = field(default_factory=dict)
    body_check: Callable[[Any], list[str]] | None = None

    @property
    def user(self) -> str:
        """The caller's identity (handlers behind auth only)."""
        assert self.principal is not None
        return self.principal.user_id

    @property
    def r(self) -> Renderer:
        """The renderer for this request's REST version."""
        return Renderer(self.site, self.version)

    def multi(self, name: str) -> list[str]:
        """Every value of a repeated query parameter."""
        return self.request.query_params.getlist(name)

    def int_param(self, name: str, default: int, *, minimum: int = 0) -> int:
        """An integer query parameter; 400 when not a number."""
        raw = self.params.get(name)
        if raw is None or raw == "":
            return default
        try:
            value: int | None = int(raw)
        except ValueError:
            value = None
        # Jira's parameters are Java ints (longs for epoch times): out of range is a 400.
        limit = 2**63 if name in _LONG_PARAMS else 2**31
        if value is None or not -limit <= value < limit:
            raise SimHTTPError(400, [f"The value '{raw}' is invalid for parameter '{name}'."])
        return max(value, minimum)

    def bool_param(self, name: str, default: bool) -> bool:
        """A boolean query parameter."""
        raw = self.params.get(name)
        if raw is None:
            return default
        return raw.lower() == "true"

    def body_dict(self) -> dict[str, Any]:
        """The JSON body, which must be an object."""
        if not isinstance(self.body, dict):
            raise SimHTTPError(400, ["The request body must be a JSON object."])
        return self.body


Handler = Callable[[Ctx], Any]


class SimRoute(Route):
    """A Starlette route that remembers which spec operation it implements.

    The router copies the matched route into the scope (``sim_route``) so the stats and the
    validating middleware know the route template without matching again.
    """

    def __init__(
        self,
        path: str,
        endpoint: Callable[[Request], Awaitable[Response]],
        *,
        methods: list[str],
        spec: str | None,
        spec_path: str | None,
    ) -> None:
        super().__init__(path, endpoint, methods=methods)
        self.spec = spec
        self.spec_path = spec_path

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        match, child = super().matches(scope)
        if match == Match.FULL:
            child = {**child, "sim_route": self}
        return match, child


def endpoint(
    handler: Handler,
    *,
    version: str,
    auth: str = "required",
    status: int = 200,
    rules: dict[str, ParamRule] | None = None,
    body_check: Callable[[Any], list[str]] | None = None,
) -> Callable[[Request], Awaitable[Response]]:
    """Wrap a sync handler: parse body and params, authenticate, turn the result into JSON.

    ``rules`` are the spec's query-parameter constraints and ``body_check`` lists what is
    wrong with a JSON body against the spec: either makes the request a 400, as the contract
    says, before the handler runs.
    """

    # A handler may answer bad bodies in its own shape (bulk create): it then gets the checker.
    own_body_check = getattr(handler, "checks_body_itself", False)
    # ...and may shape every 400 of its own (the spec gives bulk create's 400 its own schema).
    refusal = getattr(handler, "refusal", None)

    def bad_request(messages: list[str], generic: Any) -> Response:
        if refusal is not None:
            return json_response(refusal(" ".join(messages)), 400)
        return json_response(generic, 400)

    async def run(request: Request) -> Response:
        site: SimSite = request.app.state.sim.site
        body: Any = None
        if request.method in ("POST", "PUT", "PATCH", "DELETE"):
            raw = await request.body()
            if raw:
                try:
                    body = json.loads(raw)
                except ValueError:
                    message = "Unexpected character in the JSON body: not valid JSON."
                    return bad_request([message], jira_error_body([message]))
        try:
            principal = (
                authenticate(request, site, optional=auth == "optional") if auth != "none" else None
            )
            ctx = Ctx(
                request,
                site,
                version,
                principal,
                body,
                dict(request.query_params),
                dict(request.path_params),
                body_check,
            )
            if rules:
                check_query(rules, request.query_params)
            if body_check is not None and body is not None and not own_body_check:
                problems = body_check(body)
                if problems:
                    raise SimHTTPError(400, [INVALID_PAYLOAD, *problems[:3]])
            result = handler(ctx)
        except SimHTTPError as exc:
            if exc.status == 400:
                return bad_request(exc.messages, exc.body())
            return json_response(exc.body(), exc.status, exc.headers or None)
        if isinstance(result, Response):
            return result
        if isinstance(result, tuple):
            code, payload = result
            return json_response(payload, code)
        if result is None:
            return json_response(None, 204)
        return json_response(result, status)

    return run
