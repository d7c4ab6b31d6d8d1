"""The inspection API under ``/_sim/``: reset, seed, stats, events, clock and config.

No authentication: it is a test and demo control surface, served on loopback only.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from jirabridge.sim.errors import jira_error_body
from jirabridge.sim.seed import SeedSpec, add_project, make_user
from jirabridge.sim.web import json_response

__all__ = ["routes"]


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw:
        return {}
    data = json.loads(raw)
    if not isinstance(data, dict):
        raise ValueError("body must be a JSON object")
    return data


def _bad(message: str) -> Response:
    return json_response(jira_error_body([message]), 400)


def _spec(data: dict[str, Any], base: SeedSpec) -> SeedSpec:
    return SeedSpec(
        projects=int(data.get("projects", base.projects)),
        issues_per_project=int(data.get("issues", base.issues_per_project)),
        users=int(data.get("users", base.users)),
        closed_sprints=int(data.get("sprints", base.closed_sprints)),
    )


async def reset(request: Request) -> Response:
    runtime = request.app.state.sim
    try:
        data = await _body(request)
        runtime.reset(_spec(data, runtime.config.seed_spec))
    except (ValueError, TypeError) as exc:
        return _bad(f"bad reset request: {exc}")
    return json_response({"ok": True, "issues": len(runtime.site.issues)})


async def seed(request: Request) -> Response:
    """Add N projects (with issues and sprints) and N users to the current site."""
    runtime = request.app.state.sim
    site = runtime.site
    try:
        spec = _spec(
            await _body(request),
            SeedSpec(projects=1, issues_per_project=30, users=0, closed_sprints=3),
        )
    except (ValueError, TypeError) as exc:
        return _bad(f"bad seed request: {exc}")
    if spec.issues_per_project < 3 or spec.projects < 0 or spec.users < 0:
        return _bad("issues must be >= 3; projects and users >= 0")
    site.muted = True
    try:
        start = len(site.users)
        for i in range(spec.users):
            make_user(site, start + i)
        users = list(site.users.values())
        first = len(site.projects)
        for n in range(spec.projects):
            add_project(site, first + n, users, spec)
    finally:
        site.muted = False
    return json_response(
        {"projects": len(site.projects), "issues": len(site.issues), "users": len(site.users)}
    )


async def stats(request: Request) -> Response:
    runtime = request.app.state.sim
    site = runtime.site
    requests = [
        {"method": m, "route": r, "status": s, "count": c}
        for (m, r, s), c in sorted(runtime.requests.items())
    ]
    out: dict[str, Any] = {
        "requests": requests,
        "totals": {
            "requests": sum(runtime.requests.values()),
            "issues": len(site.issues),
            "worklogs": len(site.worklog_index),
            "events": len(site.event_log),
        },
    }
    prop = request.query_params.get("worklogProperty")
    if prop:
        # Property values may be objects: group by their canonical JSON text.
        counts: Counter[str] = Counter()
        missing = 0
        for worklog in site.worklog_index.values():
            if prop not in worklog.properties:
                missing += 1
                continue
            value = worklog.properties[prop]
            counts[value if isinstance(value, str) else json.dumps(value, sort_keys=True)] += 1
        out["worklogs"] = {
            "property": prop,
            "byValue": dict(counts),
            "duplicates": {k: v for k, v in counts.items() if v > 1},
            "withoutProperty": missing,
        }
    return json_response(out)


async def events(request: Request) -> Response:
    site = request.app.state.sim.site
    name = request.query_params.get("name")
    try:
        since = int(request.query_params.get("since", "0"))
    except ValueError:
        return _bad("since must be epoch milliseconds")
    found = [
        {
            "name": e.name,
            "timestamp": e.timestamp_ms,
            "issueKey": e.issue_key,
            "projectKey": e.project_key,
            "payload": e.payload,
        }
        for e in site.event_log
        if e.timestamp_ms >= since and (name is None or e.name == name)
    ]
    return json_response({"events": found})


async def clock(request: Request) -> Response:
    runtime = request.app.state.sim
    if request.method == "POST":
        try:
            data = await _body(request)
            if data.get("freeze"):
                runtime.clock._frozen_at = runtime.clock.time() - runtime.clock._offset
            runtime.clock.advance(float(data.get("advance", 0)))
        except (ValueError, TypeError) as exc:
            return _bad(f"bad clock request: {exc}")
    return json_response(
        {"now": runtime.site.now_ms(), "frozen": runtime.clock._frozen_at is not None}
    )


async def config(request: Request) -> Response:
    runtime = request.app.state.sim
    site = runtime.site
    if request.method == "PATCH":
        try:
            data = await _body(request)
            if "searchLagSeconds" in data:
                lag = data["searchLagSeconds"]
                lo, hi = (lag, lag) if isinstance(lag, int | float) else (lag[0], lag[1])
                site.set_search_lag(float(lo), float(hi))
        except (ValueError, TypeError, IndexError) as exc:
            return _bad(f"bad config request: {exc}")
    return json_response(
        {
            "flavor": site.flavor,
            "profile": runtime.config.profile,
            "seed": runtime.config.seed,
            "cloudId": site.cloud_id,
            "baseUrl": site.base_url,
            "searchLagSeconds": [site.index.lag_min, site.index.lag_max],
            "validate": runtime.config.validate,
        }
    )


async def users(request: Request) -> Response:
    """The site's users and their credentials (a test fixture: the simulator holds no secrets)."""
    site = request.app.state.sim.site
    return json_response(
        [
            {
                "accountId": u.account_id,
                "name": u.name,
                "key": u.key,
                "email": u.email,
                "displayName": u.display_name,
                "apiToken": u.api_token,
                "password": u.password,
                "pat": u.pats[0] if u.pats else None,
                "admin": u.admin,
            }
            for u in site.users.values()
        ]
    )


def routes() -> list[Route]:
    """The ``/_sim`` routes."""
    return [
        Route("/_sim/reset", reset, methods=["POST"]),
        Route("/_sim/seed", seed, methods=["POST"]),
        Route("/_sim/stats", stats, methods=["GET"]),
        Route("/_sim/events", events, methods=["GET"]),
        Route("/_sim/clock", clock, methods=["GET", "POST"]),
        Route("/_sim/config", config, methods=["GET", "PATCH"]),
        Route("/_sim/users", users, methods=["GET"]),
    ]
