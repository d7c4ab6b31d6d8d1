"""THE table of every route of the app and what an outsider must get from it.

``tests/security/test_authorization.py`` fails when the app serves a route that is not here,
naming it. To classify a new route, add one line:

- ``face``: ``public`` (anyone), ``login`` (the login form), ``webhook`` (signed deliveries,
  no session), ``api`` (``/api/*``: 401 anonymous) or ``page`` (UI: 303 to /login anonymous).
- ``owned``: the world id its path (or ``query``/``json``) names, for an object of the demo
  admin; another user gets ``other`` (404 unless documented) and the owner does not.
- ``admin``: members get 403.
- ``json`` / ``form`` / ``query``: a valid request, so the ownership check is reached instead of
  a 422 for a missing field. ``{name}`` in a value is replaced by the world id.
- ``real``: False when the world cannot create such an object (the id is made up, so a 404
  proves less); say why in ``note``.
- ``alias``: a path parameter that names another kind of object than the world id of the same
  name (``{connection_id}`` of a GitHub route is ``github_connection_id``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Face = Literal["public", "login", "webhook", "api", "page"]


@dataclass(frozen=True)
class Rule:
    """What a route promises."""

    face: Face
    owned: str | None = None
    admin: bool = False
    json: Any = None
    form: dict[str, str] | None = None
    query: dict[str, str] = field(default_factory=dict)
    other: int = 404
    real: bool = True
    note: str = ""
    alias: dict[str, str] = field(default_factory=dict)

    def ids(self, world_ids: dict[str, str]) -> dict[str, str]:
        """The world's ids with each ``alias`` path parameter standing for its world id."""
        return {**world_ids, **{k: world_ids[v] for k, v in self.alias.items() if v in world_ids}}


R = Rule
REC = "{record_id}"
CONN = "{connection_id}"
GH = "{github_connection_id}"
#: A GitHub route's ``{connection_id}`` is a GitHub connection, not the world's Jira one.
GH_ALIAS = {"connection_id": "github_connection_id"}
PROFILE = {"project": "DEMO"}

ROUTES: dict[tuple[str, str], Rule] = {
    # -- public and machinery
    ("GET", "/api/openapi.json"): R("public"),
    ("GET", "/api/docs"): R("public"),
    ("GET", "/docs/oauth2-redirect"): R("public"),
    ("MOUNT", "/static"): R("public"),
    ("GET", "/healthz"): R("public"),
    ("GET", "/readyz"): R("public"),
    ("GET", "/ui/readiness"): R("public"),
    ("GET", "/ui/account-indicator"): R("public", note="anonymous: a 'Log in' link"),
    ("GET", "/login"): R("public"),
    ("POST", "/login"): R("login", note="double-submit cookie instead of a session token"),
    ("GET", "/connections/oauth/callback"): R(
        "page", note="state is signed and bound to the user who started the flow"
    ),
    # -- webhooks: signature, not session
    ("POST", "/webhooks/jira/{endpoint_id}"): R("webhook"),
    ("POST", "/webhooks/github/{endpoint_id}"): R("webhook"),
    # -- time records and worklog sync
    ("GET", "/api/time-records"): R("api"),
    ("POST", "/api/time-records"): R(
        "api",
        owned="connection_id",
        json={
            "started_at": "2026-11-20T09:00:00Z",
            "duration_seconds": 600,
            "connection_id": CONN,
        },
        note="a record on someone else's connection",
    ),
    ("GET", "/api/time-records/{record_id}"): R("api", owned="record_id"),
    ("PATCH", "/api/time-records/{record_id}"): R("api", owned="record_id", json={"notes": "x"}),
    ("DELETE", "/api/time-records/{record_id}"): R("api", owned="record_id"),
    ("POST", "/api/time-records/import"): R("api"),
    ("GET", "/api/time-records/{record_id}/suggestions"): R("api", owned="record_id"),
    ("POST", "/api/time-records/suggestions/accept"): R(
        "api", owned="record_id", json={"links": {REC: "DEMO-1"}}
    ),
    ("POST", "/api/time-records/{record_id}/resolve"): R(
        "api", owned="record_id", json={"keep": "local"}
    ),
    ("POST", "/api/jira/worklogs/import"): R(
        "api",
        owned="connection_id",
        json={"since": "2026-11-01T00:00:00+00:00", "connection_id": CONN},
    ),
    ("GET", "/api/jira/issues/search"): R(
        "api", owned="connection_id", query={"q": "DEMO", "connection_id": CONN}
    ),
    ("GET", "/api/jira/issues/assigned"): R(
        "api", owned="connection_id", query={"connection_id": CONN}
    ),
    ("GET", "/api/jira/issues/{key}"): R(
        "api", owned="connection_id", query={"connection_id": CONN}
    ),
    ("POST", "/api/jira/sync/plan"): R("api", owned="record_id", json={"record_ids": [REC]}),
    ("POST", "/api/jira/sync/record/{record_id}"): R("api", owned="record_id"),
    ("DELETE", "/api/jira/worklog/{record_id}"): R("api", owned="record_id"),
    ("POST", "/api/jira/sync/bulk"): R("api", owned="record_id", json={"record_ids": [REC]}),
    ("GET", "/api/jira/sync/runs/{run_id}"): R(
        "api", owned="run_id", real=False, note="no bulk run without workers in the world"
    ),
    ("GET", "/api/jira/sync/runs/{run_id}/events"): R(
        "api", owned="run_id", real=False, note="as above"
    ),
    ("GET", "/api/jira/sync/history"): R("api"),
    ("POST", "/api/jira/sync/retry/{record_id}"): R("api", owned="record_id"),
    ("POST", "/api/jira/sync/retry-failed"): R("api"),
    ("GET", "/time"): R("page"),
    ("GET", "/time/new"): R("page"),
    ("GET", "/time/history"): R("page"),
    ("GET", "/time/{record_id}"): R("page", owned="record_id"),
    # -- accounts, keys, connections
    ("GET", "/api/jira/connections"): R("api"),
    ("POST", "/api/jira/connections"): R("api"),
    ("GET", "/api/jira/connections/{connection_id}"): R("api", owned="connection_id"),
    ("PUT", "/api/jira/connections/{connection_id}"): R(
        "api", owned="connection_id", json={"name": "stolen"}
    ),
    ("DELETE", "/api/jira/connections/{connection_id}"): R("api", owned="connection_id"),
    ("POST", "/api/jira/connections/{connection_id}/test"): R("api", owned="connection_id"),
    ("POST", "/api/jira/connections/{connection_id}/disconnect"): R("api", owned="connection_id"),
    ("GET", "/api/account"): R("api"),
    ("GET", "/api/keys"): R("api"),
    ("POST", "/api/keys"): R("api"),
    ("DELETE", "/api/keys/{key_id}"): R("api", owned="key_id"),
    ("GET", "/api/audit"): R("api", admin=True),
    ("POST", "/logout"): R("page"),
    ("GET", "/account"): R("page"),
    ("GET", "/account/keys"): R("page"),
    ("POST", "/account/keys"): R("page"),
    ("POST", "/account/keys/{key_id}/revoke"): R("page", owned="key_id"),
    ("GET", "/connections"): R("page"),
    ("GET", "/connections/new"): R("page"),
    ("POST", "/connections/new/test"): R("page"),
    ("POST", "/connections/new"): R("page"),
    ("POST", "/connections/{connection_id}/test"): R("page", owned="connection_id"),
    ("POST", "/connections/{connection_id}/delete"): R("page", owned="connection_id"),
    ("POST", "/connections/{connection_id}/disconnect"): R("page", owned="connection_id"),
    ("POST", "/connections/oauth/start"): R("page"),
    ("GET", "/connections/oauth/sites/{grant_id}"): R(
        "page", owned="grant_id", real=False, note="an OAuth grant needs the browser dance"
    ),
    ("POST", "/connections/oauth/sites/{grant_id}"): R(
        "page", owned="grant_id", real=False, note="as above", form={"cloud_id": "x"}
    ),
    ("GET", "/admin/audit"): R("page", admin=True),
    # -- stories export
    ("POST", "/api/stories/preview"): R(
        "api",
        owned="connection_id",
        json={"connection_id": CONN, "filename": "s.md", "content": "# E\n", "profile": PROFILE},
    ),
    ("POST", "/api/stories/exports"): R(
        "api",
        owned="connection_id",
        json={
            "connection_id": CONN,
            "filename": "s.md",
            "content": "# E\n",
            "profile": PROFILE,
            "plan_id": "x",
        },
    ),
    ("GET", "/api/stories/profiles"): R("api"),
    ("POST", "/api/stories/profiles"): R(
        "api",
        owned="connection_id",
        json={"name": "stolen", "connection_id": CONN, "settings": PROFILE},
        note="a profile on someone else's connection",
    ),
    ("GET", "/api/stories/profiles/{profile_id}"): R("api", owned="profile_id"),
    ("PUT", "/api/stories/profiles/{profile_id}"): R(
        "api", owned="profile_id", json={"name": "stolen", "settings": PROFILE}
    ),
    ("DELETE", "/api/stories/profiles/{profile_id}"): R("api", owned="profile_id"),
    ("GET", "/api/stories/connections/{connection_id}/projects"): R("api", owned="connection_id"),
    ("GET", "/api/stories/connections/{connection_id}/projects/{project}/mapping"): R(
        "api", owned="connection_id"
    ),
    ("GET", "/api/stories/exports"): R("api"),
    ("GET", "/api/stories/exports/{export_id}"): R("api", owned="export_id"),
    ("GET", "/api/stories/exports/{export_id}/events"): R("api", owned="export_id"),
    ("POST", "/api/stories/exports/{export_id}/rollback"): R(
        "api", owned="export_id", json={"dry_run": True}
    ),
    ("POST", "/api/stories/exports/{export_id}/refresh-status"): R("api", owned="export_id"),
    ("GET", "/stories"): R("page"),
    ("POST", "/stories/preview"): R("page", form={"profile_id": "{profile_id}"}),
    ("POST", "/stories/exports"): R("page", form={"profile_id": "{profile_id}"}),
    ("GET", "/stories/exports"): R("page"),
    ("GET", "/stories/exports/{export_id}"): R("page", owned="export_id"),
    ("POST", "/stories/exports/{export_id}/rollback"): R("page", owned="export_id"),
    ("POST", "/stories/exports/{export_id}/refresh-status"): R("page", owned="export_id"),
    ("GET", "/stories/profiles/new"): R("page"),
    ("GET", "/stories/profiles/{profile_id}"): R("page", owned="profile_id"),
    ("POST", "/stories/profiles"): R("page"),
    ("GET", "/stories/ui/projects"): R("page", note="htmx fragment: 401 without a session"),
    ("GET", "/stories/ui/mapping"): R("page", note="htmx fragment: 401 without a session"),
    # -- dev links and triage
    ("GET", "/api/devlinks/links"): R("api"),
    ("GET", "/api/devlinks/commits/{sha}"): R(
        "api", owned="sha", other=200, note="a search: another user's commit finds nothing"
    ),
    ("GET", "/api/devlinks/backfill"): R("api"),
    ("GET", "/api/triage/log"): R("api"),
    ("POST", "/api/issue-keys/explain"): R("api"),
    ("POST", "/api/triage/dry-run"): R("api"),
    ("GET", "/github"): R("page"),
    ("GET", "/github/triage"): R(
        "page",
        owned="github_connection_id",
        query={"connection": GH},
        note="the rules editor of a connection",
    ),
    ("POST", "/github/triage"): R("page"),
    ("POST", "/github/triage/{connection_id}/rules"): R(
        "page", owned="github_connection_id", form={"rules": "rules: []\n"}, alias=GH_ALIAS
    ),
    # -- GitHub connections (the admin's own; a team's is reached by its members alike)
    ("GET", "/api/github/connections"): R("api"),
    ("POST", "/api/github/connections"): R("api"),
    ("GET", "/api/github/connections/{connection_id}"): R(
        "api", owned="github_connection_id", alias=GH_ALIAS
    ),
    ("PATCH", "/api/github/connections/{connection_id}"): R(
        "api", owned="github_connection_id", json={"triage_label": "x"}, alias=GH_ALIAS
    ),
    ("PUT", "/api/github/connections/{connection_id}/repositories"): R(
        "api", owned="github_connection_id", json={"repos": []}, alias=GH_ALIAS
    ),
    ("DELETE", "/api/github/connections/{connection_id}"): R(
        "api", owned="github_connection_id", alias=GH_ALIAS
    ),
    ("POST", "/api/github/connections/{connection_id}/test"): R(
        "api", owned="github_connection_id", alias=GH_ALIAS
    ),
    ("POST", "/api/github/connections/{connection_id}/webhooks"): R(
        "api", owned="github_connection_id", alias=GH_ALIAS
    ),
    ("POST", "/api/github/backfill"): R(
        "api", owned="github_connection_id", json={"connection_id": GH, "months": 1}
    ),
    ("GET", "/api/github/backfill/{run_id}"): R(
        "api", owned="run_id", real=False, note="no backfill run in the world"
    ),
    ("GET", "/api/github/backfill/{run_id}/events"): R(
        "api", owned="run_id", real=False, note="as above"
    ),
    ("GET", "/github/connections"): R("page"),
    ("POST", "/github/connections"): R("page"),
    ("POST", "/github/connections/{connection_id}/test"): R(
        "page", owned="github_connection_id", alias=GH_ALIAS
    ),
    ("POST", "/github/connections/{connection_id}/repos"): R(
        "page", owned="github_connection_id", form={"repos": ""}, alias=GH_ALIAS
    ),
    ("POST", "/github/connections/{connection_id}/webhooks"): R(
        "page", owned="github_connection_id", alias=GH_ALIAS
    ),
    ("POST", "/github/connections/{connection_id}/delete"): R(
        "page", owned="github_connection_id", alias=GH_ALIAS
    ),
    ("POST", "/github/connections/{connection_id}/backfill"): R(
        "page", owned="github_connection_id", form={"months": "1"}, alias=GH_ALIAS
    ),
    ("GET", "/github/backfill/{run_id}"): R(
        "page", owned="run_id", real=False, note="no backfill run in the world"
    ),
    # -- webhooks management
    ("POST", "/api/webhooks/endpoints"): R(
        "api",
        owned="connection_id",
        json={"name": "x", "source": "jira", "connection_id": CONN},
        note="an endpoint tied to someone else's connection",
    ),
    ("GET", "/api/webhooks/endpoints"): R("api"),
    ("GET", "/api/webhooks/deliveries"): R("api"),
    ("POST", "/api/webhooks/deliveries/replay"): R("api"),
    ("POST", "/api/webhooks/deliveries/{delivery_pk}/replay"): R("api", owned="delivery_pk"),
    ("GET", "/api/webhooks/status-links"): R("api"),
    ("GET", "/api/webhooks/health"): R("api"),
    ("GET", "/api/webhooks/status-events"): R("api", note="server-sent events: not walked"),
    ("GET", "/events"): R("page"),
    ("POST", "/events/replay"): R("page"),
    ("POST", "/events/endpoints"): R(
        "page",
        owned="connection_id",
        form={"name": "x", "source": "jira", "connection_id": CONN},
        note="an endpoint tied to someone else's connection",
    ),
    ("POST", "/events/{delivery_pk}/replay"): R("page", owned="delivery_pk"),
    # -- sprint reports
    ("GET", "/api/reports/connections/{connection_id}/boards"): R("api", owned="connection_id"),
    ("GET", "/api/reports/connections/{connection_id}/boards/{board_id}"): R(
        "api", owned="connection_id"
    ),
    ("GET", "/api/reports/connections/{connection_id}/boards/{board_id}/csv"): R(
        "api", owned="connection_id"
    ),
    ("GET", "/reports"): R("page"),
    ("GET", "/reports/{connection_id}"): R("page", owned="connection_id"),
    ("GET", "/reports/{connection_id}/boards/{board_id}"): R("page", owned="connection_id"),
    # -- home
    ("GET", "/"): R("public", note="the dashboard shows a login link to anonymous visitors"),
}

#: Made-up values for ids the world cannot create (see ``real``).
FALLBACK_IDS = {
    "run_id": "00000000-0000-0000-0000-000000000000",
    "grant_id": "00000000-0000-0000-0000-000000000000",
    "key": "DEMO-1",
    "project": "DEMO",
}

#: Routes never requested by the walk (long-lived streams).
NOT_WALKED = {("GET", "/api/webhooks/status-events")}


def fill(text: str, ids: dict[str, str]) -> str:
    """``text`` with every ``{name}`` replaced by the id of that name."""
    for name, value in {**FALLBACK_IDS, **ids}.items():
        text = text.replace("{" + name + "}", value)
    return text


def fill_any(value: Any, ids: dict[str, str]) -> Any:
    """:func:`fill` through lists and dicts."""
    if isinstance(value, str):
        return fill(value, ids)
    if isinstance(value, list):
        return [fill_any(v, ids) for v in value]
    if isinstance(value, dict):
        return {k: fill_any(v, ids) for k, v in value.items()}
    return value
