"""REST platform routes: issues, bulk create, comments, links, remote links, properties."""

from __future__ import annotations

import json
from typing import Any

from jirabridge.sim import issues as ops
from jirabridge.sim import payloads
from jirabridge.sim.errors import SimHTTPError
from jirabridge.sim.model import Comment, IssueLink, RemoteLink
from jirabridge.sim.web import Ctx

__all__ = ["ROUTES"]

_MAX_BULK_CREATE = 50


def _expand(ctx: Ctx) -> set[str]:
    out: set[str] = set()
    for raw in ctx.multi("expand"):
        out.update(x.strip() for x in raw.split(",") if x.strip())
    return out


def create_issue(ctx: Ctx) -> Any:
    issue = ops.create_issue(ctx.site, ctx.body_dict(), ctx.version, ctx.user)
    return 201, {"id": str(issue.id), "key": issue.key, "self": f"{ctx.r.api}/issue/{issue.id}"}


def _bulk_refusal(message: str, position: int) -> dict[str, Any]:
    return {
        "issues": [],
        "errors": [
            {
                "status": 400,
                "elementErrors": {"errorMessages": [message], "errors": {}},
                "failedElementNumber": position,
            }
        ],
    }


def bulk_create(ctx: Ctx) -> Any:
    updates = ctx.body.get("issueUpdates") if isinstance(ctx.body, dict) else None
    # Even a refused call answers in the CreatedIssues shape, as the spec declares for 400.
    if not isinstance(updates, list):
        return 400, _bulk_refusal("issueUpdates must be a list.", 0)
    problems = ctx.body_check(ctx.body) if ctx.body_check is not None else []
    if problems:
        return 400, _bulk_refusal("Invalid request payload: " + "; ".join(problems[:3]), 0)
    if len(updates) > _MAX_BULK_CREATE:
        message = f"Bulk create is limited to {_MAX_BULK_CREATE} issues per request."
        return 400, _bulk_refusal(message, _MAX_BULK_CREATE)
    created: list[dict[str, Any]] = []
    errors: list[dict[str, Any]] = []
    for position, update in enumerate(updates):
        try:
            if not isinstance(update, dict):
                raise SimHTTPError(400, ["Each issue update must be an object."])
            issue = ops.create_issue(ctx.site, update, ctx.version, ctx.user)
        except SimHTTPError as exc:
            errors.append(
                {
                    "status": exc.status,
                    "elementErrors": {"errorMessages": exc.messages, "errors": exc.errors},
                    "failedElementNumber": position,
                }
            )
            continue
        created.append(
            {"id": str(issue.id), "key": issue.key, "self": f"{ctx.r.api}/issue/{issue.id}"}
        )
    result = {"issues": created, "errors": errors}
    return (201 if created else 400), result


bulk_create.checks_body_itself = True  # type: ignore[attr-defined]
bulk_create.refusal = lambda message: _bulk_refusal(message, 0)  # type: ignore[attr-defined]


def get_issue(ctx: Ctx) -> Any:
    issue = ctx.site.get_issue(ctx.path["issueIdOrKey"])
    fields = ctx.multi("fields") or None
    return ctx.r.issue(
        issue, fields=fields, expand=_expand(ctx), properties=ctx.multi("properties") or None
    )


def edit_issue(ctx: Ctx) -> Any:
    issue = ctx.site.get_issue(ctx.path["issueIdOrKey"])
    ops.edit_issue(ctx.site, issue, ctx.body_dict(), ctx.version, ctx.user)
    if ctx.bool_param("returnIssue", False):
        return 200, ctx.r.issue(issue, expand=_expand(ctx))
    return None


def delete_issue(ctx: Ctx) -> Any:
    issue = ctx.site.get_issue(ctx.path["issueIdOrKey"])
    ops.delete_issue(
        ctx.site, issue, ctx.user, delete_subtasks=ctx.bool_param("deleteSubtasks", False)
    )


def assign(ctx: Ctx) -> Any:
    issue = ctx.site.get_issue(ctx.path["issueIdOrKey"])
    ops.assign_issue(ctx.site, issue, ctx.body, ctx.user)


def get_transitions(ctx: Ctx) -> Any:
    issue = ctx.site.get_issue(ctx.path["issueIdOrKey"])
    return {"expand": "transitions", "transitions": ctx.r.transitions(issue)}


def do_transition(ctx: Ctx) -> Any:
    issue = ctx.site.get_issue(ctx.path["issueIdOrKey"])
    ops.transition_issue(ctx.site, issue, ctx.body_dict(), ctx.version, ctx.user)


def changelog(ctx: Ctx) -> Any:
    issue = ctx.site.get_issue(ctx.path["issueIdOrKey"])
    start = ctx.int_param("startAt", 0)
    size = min(ctx.int_param("maxResults", 100, minimum=1), 100)
    page = issue.changelog[start : start + size]
    out: dict[str, Any] = {
        "self": f"{ctx.r.api}/issue/{issue.key}/changelog?maxResults={size}&startAt={start}",
        "maxResults": size,
        "startAt": start,
        "total": len(issue.changelog),
        "isLast": start + size >= len(issue.changelog),
        "values": [ctx.r.change_group(g) for g in page],
    }
    if not out["isLast"]:
        out["nextPage"] = (
            f"{ctx.r.api}/issue/{issue.key}/changelog?maxResults={size}&startAt={start + size}"
        )
    return out


# ------------------------------------------------------------------------ comments


def _comment(ctx: Ctx) -> tuple[Any, Comment]:
    issue = ctx.site.get_issue(ctx.path["issueIdOrKey"])
    for comment in issue.comments:
        if str(comment.id) == ctx.path["id"]:
            return issue, comment
    raise SimHTTPError(404, [f"Can not find a comment for the id: {ctx.path['id']}."])


def list_comments(ctx: Ctx) -> Any:
    issue = ctx.site.get_issue(ctx.path["issueIdOrKey"])
    start = ctx.int_param("startAt", 0)
    size = min(ctx.int_param("maxResults", 5000, minimum=1), 5000)
    comments = sorted(
        issue.comments,
        key=lambda c: c.created_ms,
        reverse=ctx.params.get("orderBy", "").startswith("-"),
    )
    expand_props = "properties" in _expand(ctx)
    return {
        "startAt": start,
        "maxResults": size,
        "total": len(comments),
        "comments": [
            ctx.r.comment(c, expand_properties=expand_props) for c in comments[start : start + size]
        ],
    }


def add_comment(ctx: Ctx) -> Any:
    site = ctx.site
    issue = site.get_issue(ctx.path["issueIdOrKey"])
    body = ctx.body_dict()
    doc = ops.parse_body(body.get("body"), ctx.version, "comment")
    if doc is None:
        raise SimHTTPError(400, errors={"comment": "Comment body can not be empty!"})
    now = site.now_ms()
    comment = Comment(
        id=site.next_id("comment"),
        issue_id=issue.id,
        author=ctx.user,
        update_author=ctx.user,
        body=doc,
        created_ms=now,
        updated_ms=now,
        visibility=body.get("visibility"),
        properties={
            p["key"]: p.get("value")
            for p in body.get("properties") or []
            if isinstance(p, dict) and "key" in p
        },
    )
    issue.comments.append(comment)
    issue.updated_ms = now
    site.reindex(issue)
    site.emit(
        "comment_created",
        payloads.comment_event(site, "comment_created", issue, comment),
        issue=issue,
    )
    site.emit(
        "jira:issue_updated",
        payloads.issue_commented_event(site, issue, comment, ctx.user),
        issue=issue,
    )
    return 201, ctx.r.comment(comment)


def get_comment(ctx: Ctx) -> Any:
    _, comment = _comment(ctx)
    return ctx.r.comment(comment, expand_properties="properties" in _expand(ctx))


def update_comment(ctx: Ctx) -> Any:
    issue, comment = _comment(ctx)
    body = ctx.body_dict()
    doc = ops.parse_body(body.get("body"), ctx.version, "comment")
    if doc is None:
        raise SimHTTPError(400, errors={"comment": "Comment body can not be empty!"})
    comment.body = doc
    comment.update_author = ctx.user
    comment.updated_ms = ctx.site.now_ms()
    if "visibility" in body:
        comment.visibility = body["visibility"]
    ctx.site.reindex(issue)
    ctx.site.emit(
        "comment_updated",
        payloads.comment_event(ctx.site, "comment_updated", issue, comment),
        issue=issue,
    )
    return ctx.r.comment(comment)


def delete_comment(ctx: Ctx) -> Any:
    issue, comment = _comment(ctx)
    issue.comments.remove(comment)
    ctx.site.reindex(issue)
    ctx.site.emit(
        "comment_deleted",
        payloads.comment_event(ctx.site, "comment_deleted", issue, comment),
        issue=issue,
    )


# ------------------------------------------------------------------------ issue properties

_MAX_PROPERTY_VALUE = 32768


def _check_property(key: str, value: Any) -> None:
    if not key or len(key) > 255:
        raise SimHTTPError(400, ["The property key must be between 1 and 255 characters long."])
    if len(json.dumps(value)) > _MAX_PROPERTY_VALUE:
        raise SimHTTPError(
            400, [f"The property value must be shorter than {_MAX_PROPERTY_VALUE} characters."]
        )


def property_keys(ctx: Ctx, props: dict[str, Any], base: str) -> Any:
    return {"keys": [{"key": k, "self": f"{base}/properties/{k}"} for k in props]}


def issue_property_keys(ctx: Ctx) -> Any:
    issue = ctx.site.get_issue(ctx.path["issueIdOrKey"])
    return property_keys(ctx, issue.properties, f"{ctx.r.api}/issue/{issue.key}")


def get_issue_property(ctx: Ctx) -> Any:
    issue = ctx.site.get_issue(ctx.path["issueIdOrKey"])
    key = ctx.path["propertyKey"]
    if key not in issue.properties:
        raise SimHTTPError(404, [f"The property with key '{key}' does not exist."])
    return {"key": key, "value": issue.properties[key]}


def set_issue_property(ctx: Ctx) -> Any:
    issue = ctx.site.get_issue(ctx.path["issueIdOrKey"])
    key = ctx.path["propertyKey"]
    _check_property(key, ctx.body)
    existed = key in issue.properties
    issue.properties[key] = ctx.body
    ctx.site.reindex(issue)
    return (200 if existed else 201), {}


def delete_issue_property(ctx: Ctx) -> Any:
    issue = ctx.site.get_issue(ctx.path["issueIdOrKey"])
    key = ctx.path["propertyKey"]
    if key not in issue.properties:
        raise SimHTTPError(404, [f"The property with key '{key}' does not exist."])
    del issue.properties[key]
    ctx.site.reindex(issue)


# ------------------------------------------------------------------------ links


def create_link(ctx: Ctx) -> Any:
    site = ctx.site
    body = ctx.body_dict()
    lt = site.link_type(body.get("type") or {})
    refs = []
    for side in ("inwardIssue", "outwardIssue"):
        ref = body.get(side) or {}
        issue = site.find_issue(str(ref.get("key") or ref.get("id") or ""))
        if issue is None:
            raise SimHTTPError(
                404, [f"Issue does not exist or you do not have permission to see it. ({side})"]
            )
        refs.append(issue)
    link = IssueLink(site.next_id("issuelink"), lt[0], refs[0].id, refs[1].id)
    site.links[link.id] = link
    for issue in refs:
        site.reindex(issue)
    site.emit("issuelink_created", payloads.issuelink_event(site, "issuelink_created", link))
    comment = body.get("comment")
    if isinstance(comment, dict) and comment.get("body") is not None:
        sub = Ctx(
            ctx.request,
            site,
            ctx.version,
            ctx.principal,
            {"body": comment["body"]},
            {},
            {"issueIdOrKey": refs[0].key},
        )
        add_comment(sub)
    return 201, None


def get_link(ctx: Ctx) -> Any:
    link = ctx.site.links.get(int(ctx.path["linkId"])) if ctx.path["linkId"].isdigit() else None
    if link is None:
        raise SimHTTPError(404, ["No issue link with id '" + ctx.path["linkId"] + "' exists."])
    return ctx.r.issue_link(link)


def delete_link(ctx: Ctx) -> Any:
    link = (
        ctx.site.links.pop(int(ctx.path["linkId"]), None) if ctx.path["linkId"].isdigit() else None
    )
    if link is None:
        raise SimHTTPError(404, ["No issue link with id '" + ctx.path["linkId"] + "' exists."])
    ctx.site.emit(
        "issuelink_deleted", payloads.issuelink_event(ctx.site, "issuelink_deleted", link)
    )


def link_types(ctx: Ctx) -> Any:
    from jirabridge.sim.state import LINK_TYPES

    return {
        "issueLinkTypes": [
            {
                "id": i,
                "name": n,
                "inward": inw,
                "outward": out,
                "self": f"{ctx.r.api}/issueLinkType/{i}",
            }
            for i, n, inw, out in LINK_TYPES
        ]
    }


# ------------------------------------------------------------------------ remote links


def list_remote_links(ctx: Ctx) -> Any:
    issue = ctx.site.get_issue(ctx.path["issueIdOrKey"])
    links = issue.remote_links
    if "globalId" in ctx.params:
        links = [x for x in links if x.global_id == ctx.params["globalId"]]
    return [ctx.r.remote_link(x) for x in links]


def upsert_remote_link(ctx: Ctx) -> Any:
    issue = ctx.site.get_issue(ctx.path["issueIdOrKey"])
    body = ctx.body_dict()
    obj = body.get("object")
    if not isinstance(obj, dict) or not obj.get("url") or not obj.get("title"):
        raise SimHTTPError(400, errors={"title": "'title' and 'url' are required in 'object'."})
    global_id = body.get("globalId")
    existing = next((x for x in issue.remote_links if global_id and x.global_id == global_id), None)
    if existing is not None:
        existing.object, existing.application, existing.relationship = (
            obj,
            body.get("application"),
            body.get("relationship"),
        )
        return 200, {
            "id": existing.id,
            "self": f"{ctx.r.api}/issue/{issue.id}/remotelink/{existing.id}",
        }
    link = RemoteLink(
        ctx.site.next_id("remotelink"),
        issue.id,
        global_id,
        body.get("application"),
        body.get("relationship"),
        obj,
    )
    issue.remote_links.append(link)
    return 201, {"id": link.id, "self": f"{ctx.r.api}/issue/{issue.id}/remotelink/{link.id}"}


def _remote(ctx: Ctx) -> tuple[Any, RemoteLink]:
    issue = ctx.site.get_issue(ctx.path["issueIdOrKey"])
    for link in issue.remote_links:
        if str(link.id) == ctx.path["linkId"]:
            return issue, link
    raise SimHTTPError(404, [f"No remote link with id '{ctx.path['linkId']}' exists."])


def get_remote_link(ctx: Ctx) -> Any:
    return ctx.r.remote_link(_remote(ctx)[1])


def delete_remote_link(ctx: Ctx) -> Any:
    issue, link = _remote(ctx)
    issue.remote_links.remove(link)


_I = "/issue/{issueIdOrKey}"
ROUTES: list[tuple[str, str, Any, int]] = [
    ("POST", "/issue", create_issue, 201),
    ("POST", "/issue/bulk", bulk_create, 201),
    ("GET", _I, get_issue, 200),
    ("PUT", _I, edit_issue, 204),
    ("DELETE", _I, delete_issue, 204),
    ("PUT", _I + "/assignee", assign, 204),
    ("GET", _I + "/transitions", get_transitions, 200),
    ("POST", _I + "/transitions", do_transition, 204),
    ("GET", _I + "/changelog", changelog, 200),
    ("GET", _I + "/comment", list_comments, 200),
    ("POST", _I + "/comment", add_comment, 201),
    ("GET", _I + "/comment/{id}", get_comment, 200),
    ("PUT", _I + "/comment/{id}", update_comment, 200),
    ("DELETE", _I + "/comment/{id}", delete_comment, 204),
    ("GET", _I + "/properties", issue_property_keys, 200),
    ("GET", _I + "/properties/{propertyKey}", get_issue_property, 200),
    ("PUT", _I + "/properties/{propertyKey}", set_issue_property, 200),
    ("DELETE", _I + "/properties/{propertyKey}", delete_issue_property, 204),
    ("POST", "/issueLink", create_link, 201),
    ("GET", "/issueLink/{linkId}", get_link, 200),
    ("DELETE", "/issueLink/{linkId}", delete_link, 204),
    ("GET", "/issueLinkType", link_types, 200),
    ("GET", _I + "/remotelink", list_remote_links, 200),
    ("POST", _I + "/remotelink", upsert_remote_link, 201),
    ("GET", _I + "/remotelink/{linkId}", get_remote_link, 200),
    ("DELETE", _I + "/remotelink/{linkId}", delete_remote_link, 204),
]
