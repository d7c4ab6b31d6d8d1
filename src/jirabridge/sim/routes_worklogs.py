"""REST platform routes for worklogs, their properties and the incremental worklog feeds."""

from __future__ import annotations

from typing import Any

from jirabridge.sim import worklogs as ops
from jirabridge.sim.errors import SimHTTPError
from jirabridge.sim.model import Issue, Worklog
from jirabridge.sim.routes_issues import _check_property, _expand
from jirabridge.sim.web import Ctx

__all__ = ["ROUTES"]

_FEED_PAGE = 1000
_FEED_QUIET_MS = 60_000  # Jira leaves out the last minute: those changes may still be settling.


def _issue(ctx: Ctx) -> Issue:
    return ctx.site.get_issue(ctx.path["issueIdOrKey"])


def _worklog(ctx: Ctx) -> tuple[Issue, Worklog]:
    issue = _issue(ctx)
    return issue, ops.find_worklog(issue, ctx.path["id"])


def list_worklogs(ctx: Ctx) -> Any:
    issue = _issue(ctx)
    start = ctx.int_param("startAt", 0)
    size = min(ctx.int_param("maxResults", 5000, minimum=1), 5000)
    after = ctx.int_param("startedAfter", -1, minimum=-1)
    before = ctx.int_param("startedBefore", -1, minimum=-1)
    logs = [
        w
        for w in sorted(issue.worklogs, key=lambda w: (w.started_ms, w.id))
        if (after < 0 or w.started_ms >= after) and (before < 0 or w.started_ms < before)
    ]
    props = "properties" in _expand(ctx)
    return {
        "startAt": start,
        "maxResults": size,
        "total": len(logs),
        "worklogs": [ctx.r.worklog(w, expand_properties=props) for w in logs[start : start + size]],
    }


def add_worklog(ctx: Ctx) -> Any:
    issue = _issue(ctx)
    worklog = ops.add_worklog(ctx.site, issue, ctx.body_dict(), ctx.params, ctx.version, ctx.user)
    return 201, ctx.r.worklog(worklog, expand_properties="properties" in _expand(ctx))


def get_worklog(ctx: Ctx) -> Any:
    _, worklog = _worklog(ctx)
    return ctx.r.worklog(worklog, expand_properties="properties" in _expand(ctx))


def update_worklog(ctx: Ctx) -> Any:
    issue, worklog = _worklog(ctx)
    ops.update_worklog(ctx.site, issue, worklog, ctx.body_dict(), ctx.params, ctx.version, ctx.user)
    return ctx.r.worklog(worklog, expand_properties="properties" in _expand(ctx))


def delete_worklog(ctx: Ctx) -> Any:
    issue, worklog = _worklog(ctx)
    ops.delete_worklog(ctx.site, issue, worklog, ctx.params, ctx.user)


def worklog_property_keys(ctx: Ctx) -> Any:
    issue, worklog = _worklog(ctx)
    base = f"{ctx.r.api}/issue/{issue.id}/worklog/{worklog.id}"
    return {"keys": [{"key": k, "self": f"{base}/properties/{k}"} for k in worklog.properties]}


def get_worklog_property(ctx: Ctx) -> Any:
    _, worklog = _worklog(ctx)
    key = ctx.path["propertyKey"]
    if key not in worklog.properties:
        raise SimHTTPError(404, [f"The property with key '{key}' does not exist."])
    return {"key": key, "value": worklog.properties[key]}


def set_worklog_property(ctx: Ctx) -> Any:
    _, worklog = _worklog(ctx)
    key = ctx.path["propertyKey"]
    _check_property(key, ctx.body)
    existed = key in worklog.properties
    worklog.properties[key] = ctx.body
    worklog.updated_ms = ctx.site.now_ms()
    return (200 if existed else 201), {}


def delete_worklog_property(ctx: Ctx) -> Any:
    _, worklog = _worklog(ctx)
    key = ctx.path["propertyKey"]
    if key not in worklog.properties:
        raise SimHTTPError(404, [f"The property with key '{key}' does not exist."])
    del worklog.properties[key]


def _feed(ctx: Ctx, items: list[tuple[int, int]], path: str, with_props: bool) -> Any:
    since = ctx.int_param("since", 0)
    cutoff = ctx.site.now_ms() - _FEED_QUIET_MS
    window = sorted((t, i) for i, t in items if since <= t <= cutoff)
    page = window[:_FEED_PAGE]
    last = len(window) <= _FEED_PAGE
    until = page[-1][0] if page else since
    values = []
    for t, worklog_id in page:
        value: dict[str, Any] = {"worklogId": worklog_id, "updatedTime": t, "properties": []}
        if with_props:
            wl = ctx.site.worklog_index.get(worklog_id)
            if wl is not None:
                value["properties"] = [{"key": k, "value": v} for k, v in wl.properties.items()]
        values.append(value)
    out: dict[str, Any] = {
        "values": values,
        "since": since,
        "until": until,
        "self": f"{ctx.r.api}/worklog/{path}?since={since}",
        "lastPage": last,
    }
    if not last:
        out["nextPage"] = f"{ctx.r.api}/worklog/{path}?since={until}"
    return out


def worklogs_updated(ctx: Ctx) -> Any:
    items = [(w.id, w.updated_ms) for w in ctx.site.worklog_index.values()]
    return _feed(ctx, items, "updated", "properties" in _expand(ctx))


def worklogs_deleted(ctx: Ctx) -> Any:
    return _feed(ctx, list(ctx.site.deleted_worklogs), "deleted", False)


def worklog_list(ctx: Ctx) -> Any:
    ids = ctx.body_dict().get("ids")
    if not isinstance(ids, list) or not all(isinstance(i, int) for i in ids):
        raise SimHTTPError(400, ["'ids' must be a list of worklog ids."])
    if len(ids) > 1000:
        raise SimHTTPError(400, ["A maximum of 1000 worklog ids can be requested."])
    props = "properties" in _expand(ctx)
    found = [ctx.site.worklog_index[i] for i in ids if i in ctx.site.worklog_index]
    return [ctx.r.worklog(w, expand_properties=props) for w in found]


_W = "/issue/{issueIdOrKey}/worklog"
ROUTES: list[tuple[str, str, Any, int]] = [
    ("GET", _W, list_worklogs, 200),
    ("POST", _W, add_worklog, 201),
    ("GET", _W + "/{id}", get_worklog, 200),
    ("PUT", _W + "/{id}", update_worklog, 200),
    ("DELETE", _W + "/{id}", delete_worklog, 204),
    ("GET", _W + "/{worklogId}/properties", worklog_property_keys, 200),
    ("GET", _W + "/{worklogId}/properties/{propertyKey}", get_worklog_property, 200),
    ("PUT", _W + "/{worklogId}/properties/{propertyKey}", set_worklog_property, 200),
    ("DELETE", _W + "/{worklogId}/properties/{propertyKey}", delete_worklog_property, 204),
    ("GET", "/worklog/updated", worklogs_updated, 200),
    ("GET", "/worklog/deleted", worklogs_deleted, 200),
    ("POST", "/worklog/list", worklog_list, 200),
]
