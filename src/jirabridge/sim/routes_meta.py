"""Metadata routes: server info, myself, users, projects, issue types, fields, createmeta."""

from __future__ import annotations

from typing import Any

from jirabridge.sim.errors import SimHTTPError
from jirabridge.sim.formats import jira_datetime
from jirabridge.sim.model import (
    FIELD_EPIC_LINK,
    FIELD_EPIC_NAME,
    FIELD_SPRINT,
    FIELD_STORY_POINTS,
    ISSUE_TYPES,
    PRIORITIES,
    STATUSES,
    User,
)
from jirabridge.sim.web import Ctx

__all__ = ["ROUTES", "SYSTEM_FIELDS"]

#: System fields: id -> (name, schema type, items type or None).
SYSTEM_FIELDS: dict[str, tuple[str, str, str | None]] = {
    "summary": ("Summary", "string", None),
    "description": ("Description", "string", None),
    "issuetype": ("Issue Type", "issuetype", None),
    "project": ("Project", "project", None),
    "status": ("Status", "status", None),
    "priority": ("Priority", "priority", None),
    "assignee": ("Assignee", "user", None),
    "reporter": ("Reporter", "user", None),
    "labels": ("Labels", "array", "string"),
    "components": ("Components", "array", "component"),
    "parent": ("Parent", "issuelink", None),
    "duedate": ("Due date", "date", None),
    "created": ("Created", "datetime", None),
    "updated": ("Updated", "datetime", None),
    "timetracking": ("Time tracking", "timetracking", None),
}


def server_info(ctx: Ctx) -> Any:
    cloud = ctx.site.is_cloud
    return {
        "baseUrl": ctx.site.base_url,
        "version": "1001.0.0-SNAPSHOT" if cloud else "9.12.15",
        "versionNumbers": [1001, 0, 0] if cloud else [9, 12, 15],
        "deploymentType": "Cloud" if cloud else "Server",
        "buildNumber": 100283 if cloud else 9120015,
        "buildDate": "2026-11-01T00:00:00.000+0000",
        "serverTime": jira_datetime(ctx.site.now_ms()),
        "scmInfo": "jirabridge-sim",
        "serverTitle": "Jira (jirabridge simulator)",
    }


def myself(ctx: Ctx) -> Any:
    out = ctx.r.user_by_id(ctx.user) or {}
    out["locale"] = "en_US"
    out["groups"] = {"size": 1, "items": []}
    out["applicationRoles"] = {"size": 1, "items": []}
    out["expand"] = "groups,applicationRoles"
    return out


def _match(user: User, query: str) -> bool:
    q = query.lower()
    return any(q in x.lower() for x in (user.display_name, user.email, user.name))


def get_user(ctx: Ctx) -> Any:
    ref = ctx.params.get("accountId") or ctx.params.get("username") or ctx.params.get("key")
    for user in ctx.site.users.values():
        if ref in (user.account_id, user.name, user.key) and ref:
            return ctx.r.user(user)
    raise SimHTTPError(404, [f"The user with account ID '{ref}' does not exist."])


def user_search(ctx: Ctx) -> Any:
    query = ctx.params.get("query") or ctx.params.get("username") or ""
    account = ctx.params.get("accountId")
    start = ctx.int_param("startAt", 0)
    size = min(ctx.int_param("maxResults", 50), 1000)
    users = [
        u
        for u in ctx.site.users.values()
        if (account and u.account_id == account)
        or (not account and (not query or _match(u, query)))
    ]
    return [ctx.r.user(u) for u in users[start : start + size]]


def assignable(ctx: Ctx) -> Any:
    if not any(ctx.params.get(p) for p in ("project", "issueKey", "issueId")):
        raise SimHTTPError(400, ["The project, issueKey or issueId parameter is required."])
    if ctx.params.get("project"):
        ctx.site.project_by_ref(ctx.params["project"])
    if ctx.params.get("issueKey"):
        ctx.site.get_issue(ctx.params["issueKey"])
    return user_search(ctx)


def projects(ctx: Ctx) -> Any:
    return [ctx.r.project(p, full=True) for p in ctx.site.projects.values()]


def project_search(ctx: Ctx) -> Any:
    start = ctx.int_param("startAt", 0)
    size = min(ctx.int_param("maxResults", 50), 100)
    query = (ctx.params.get("query") or "").lower()
    found = [
        p
        for p in ctx.site.projects.values()
        if not query or query in p.key.lower() or query in p.name.lower()
    ]
    page = found[start : start + size]
    return {
        "self": f"{ctx.r.api}/project/search?startAt={start}&maxResults={size}",
        "maxResults": size,
        "startAt": start,
        "total": len(found),
        "isLast": start + size >= len(found),
        "values": [ctx.r.project(p, full=True) for p in page],
    }


def project(ctx: Ctx) -> Any:
    return ctx.r.project(ctx.site.project_by_ref(ctx.path["projectIdOrKey"]), full=True)


def project_components(ctx: Ctx) -> Any:
    project = ctx.site.project_by_ref(ctx.path["projectIdOrKey"])
    return [ctx.r.project_component(project, cid) for cid in project.components]


def issue_types(ctx: Ctx) -> Any:
    return [ctx.r.issue_type(t) for t in ISSUE_TYPES]


def statuses(ctx: Ctx) -> Any:
    return [ctx.r.status(s) for s in STATUSES]


def priorities(ctx: Ctx) -> Any:
    return [
        {**ctx.r.priority(pid), "description": name, "statusColor": "#ffffff"}
        for pid, name in PRIORITIES
    ]


def _schema(field_id: str) -> dict[str, Any]:
    if field_id in SYSTEM_FIELDS:
        _, kind, items = SYSTEM_FIELDS[field_id]
        out: dict[str, Any] = {"type": kind, "system": field_id}
        if items:
            out["items"] = items
        return out
    custom = {
        FIELD_EPIC_NAME: ("string", "com.pyxis.greenhopper.jira:gh-epic-label", None),
        FIELD_EPIC_LINK: ("any", "com.pyxis.greenhopper.jira:gh-epic-link", None),
        FIELD_STORY_POINTS: (
            "number",
            "com.atlassian.jira.plugin.system.customfieldtypes:float",
            None,
        ),
        "customfield_10019": ("any", "com.pyxis.greenhopper.jira:gh-lexo-rank", None),
        FIELD_SPRINT: ("array", "com.pyxis.greenhopper.jira:gh-sprint", "json"),
    }[field_id]
    out = {"type": custom[0], "custom": custom[1], "customId": int(field_id.split("_")[1])}
    if custom[2]:
        out["items"] = custom[2]
    return out


def fields(ctx: Ctx) -> Any:
    out = []
    for fid, (name, _, _) in SYSTEM_FIELDS.items():
        out.append(
            {
                "id": fid,
                "key": fid,
                "name": name,
                "custom": False,
                "orderable": True,
                "navigable": True,
                "searchable": True,
                "clauseNames": [fid],
                "schema": _schema(fid),
            }
        )
    for fid, (name, _) in ctx.site.custom_fields.items():
        number = fid.split("_")[1]
        out.append(
            {
                "id": fid,
                "key": fid,
                "name": name,
                "custom": True,
                "orderable": True,
                "navigable": True,
                "searchable": True,
                "clauseNames": [f"cf[{number}]", name],
                "schema": _schema(fid),
            }
        )
    return out


def createmeta_types(ctx: Ctx) -> Any:
    ctx.site.project_by_ref(ctx.path["projectIdOrKey"])
    start = ctx.int_param("startAt", 0)
    size = min(ctx.int_param("maxResults", 50), 200)
    types = [ctx.r.issue_type(t) for t in ISSUE_TYPES]
    return {
        "maxResults": size,
        "startAt": start,
        "total": len(types),
        "issueTypes": types[start : start + size],
    }


def _field_meta(ctx: Ctx, fid: str, name: str, required: bool) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "required": required,
        "schema": _schema(fid),
        "name": name,
        "key": fid,
        "fieldId": fid,
        "hasDefaultValue": fid == "priority",
        "operations": ["set"] if fid not in ("labels",) else ["add", "set", "remove"],
    }
    if fid == "issuetype":
        meta["allowedValues"] = [ctx.r.issue_type(t) for t in ISSUE_TYPES]
    if fid == "priority":
        meta["allowedValues"] = [ctx.r.priority(pid) for pid, _ in PRIORITIES]
        meta["defaultValue"] = ctx.r.priority("3")
    return meta


def createmeta_fields(ctx: Ctx) -> Any:
    project = ctx.site.project_by_ref(ctx.path["projectIdOrKey"])
    itype = next((t for t in ISSUE_TYPES if t.id == ctx.path["issueTypeId"]), None)
    if itype is None:
        raise SimHTTPError(
            404, [f"The issue type with id '{ctx.path['issueTypeId']}' does not exist."]
        )
    wanted = [
        "summary",
        "issuetype",
        "project",
        "description",
        "reporter",
        "assignee",
        "priority",
        "labels",
        "components",
        "duedate",
        "timetracking",
    ]
    items = [
        _field_meta(ctx, f, SYSTEM_FIELDS[f][0], f in ("summary", "issuetype", "project"))
        for f in wanted
    ]
    if ctx.site.is_cloud or itype.subtask:
        items.append(_field_meta(ctx, "parent", "Parent", itype.subtask))
    if itype.name == "Epic":
        items.append(_field_meta(ctx, FIELD_EPIC_NAME, "Epic Name", not ctx.site.is_cloud))
    elif not itype.subtask:
        items.append(_field_meta(ctx, FIELD_STORY_POINTS, "Story point estimate", False))
        items.append(_field_meta(ctx, FIELD_SPRINT, "Sprint", False))
        if not ctx.site.is_cloud:
            items.append(_field_meta(ctx, FIELD_EPIC_LINK, "Epic Link", False))
    for item in items:
        if item["fieldId"] == "project":
            item["allowedValues"] = [ctx.r.project(project)]
        if item["fieldId"] == "components":
            item["allowedValues"] = [
                ctx.r.project_component(project, cid) for cid in project.components
            ]
    start = ctx.int_param("startAt", 0)
    size = min(ctx.int_param("maxResults", 50), 200)
    return {
        "maxResults": size,
        "startAt": start,
        "total": len(items),
        "fields": items[start : start + size],
    }


ROUTES: list[tuple[str, str, Any, int]] = [
    ("GET", "/myself", myself, 200),
    ("GET", "/user", get_user, 200),
    ("GET", "/user/search", user_search, 200),
    ("GET", "/user/assignable/search", assignable, 200),
    ("GET", "/project", projects, 200),
    ("GET", "/project/search", project_search, 200),
    ("GET", "/project/{projectIdOrKey}", project, 200),
    ("GET", "/project/{projectIdOrKey}/components", project_components, 200),
    ("GET", "/issuetype", issue_types, 200),
    ("GET", "/status", statuses, 200),
    ("GET", "/priority", priorities, 200),
    ("GET", "/field", fields, 200),
    ("GET", "/issue/createmeta/{projectIdOrKey}/issuetypes", createmeta_types, 200),
    ("GET", "/issue/createmeta/{projectIdOrKey}/issuetypes/{issueTypeId}", createmeta_fields, 200),
]

#: Answered without credentials, as Jira does.
ANONYMOUS: list[tuple[str, str, Any, int]] = [("GET", "/serverInfo", server_info, 200)]
