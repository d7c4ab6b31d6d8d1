"""Webhook bodies, shaped as Jira sends them (REST v2 representations, ``self`` links on v2)."""

from __future__ import annotations

from typing import Any

from jirabridge.sim.model import ChangeGroup, Comment, Issue, IssueLink, Sprint, Worklog
from jirabridge.sim.render import Renderer
from jirabridge.sim.state import LINK_TYPES, SimSite

__all__ = [
    "comment_event",
    "issue_deleted_event",
    "issue_event",
    "issuelink_event",
    "sprint_event",
    "worklog_event",
]

# Webhooks carry the fields an issue has on its screens; ours are the navigable ones minus the
# heavy collections Jira leaves out of webhook bodies.
_WEBHOOK_SKIP = {"worklog", "comment"}


def _issue(site: SimSite, issue: Issue) -> dict[str, Any]:
    r = Renderer(site, "2")
    fields = [f for f in r.wanted_fields(None, default_all=True) if f not in _WEBHOOK_SKIP]
    full = r.issue(issue, fields=fields)
    return {k: full[k] for k in ("id", "self", "key", "fields")}


def _changelog(site: SimSite, group: ChangeGroup | None) -> dict[str, Any] | None:
    if group is None:
        return None
    rendered = Renderer(site, "2").change_group(group, nulls=True)
    return {"id": rendered["id"], "items": rendered["items"]}


def issue_event(
    site: SimSite,
    name: str,
    type_name: str,
    issue: Issue,
    actor: str,
    group: ChangeGroup | None,
) -> dict[str, Any]:
    """``jira:issue_created`` / ``jira:issue_updated`` with its changelog."""
    body: dict[str, Any] = {
        "timestamp": site.now_ms(),
        "webhookEvent": name,
        "issue_event_type_name": type_name,
        "user": Renderer(site, "2").user_by_id(actor),
        "issue": _issue(site, issue),
    }
    changelog = _changelog(site, group)
    if changelog is not None:
        body["changelog"] = changelog
    return body


def issue_deleted_event(site: SimSite, issue: Issue, actor: str) -> dict[str, Any]:
    """``jira:issue_deleted`` (no changelog, as Jira sends it)."""
    return {
        "timestamp": site.now_ms(),
        "webhookEvent": "jira:issue_deleted",
        "user": Renderer(site, "2").user_by_id(actor),
        "issue": _issue(site, issue),
    }


def comment_event(site: SimSite, name: str, issue: Issue, comment: Comment) -> dict[str, Any]:
    """``comment_created`` / ``_updated`` / ``_deleted``: the comment and a short issue."""
    r = Renderer(site, "2")
    short = r.issue(
        issue, fields=["summary", "issuetype", "project", "assignee", "priority", "status"]
    )
    return {
        "timestamp": site.now_ms(),
        "webhookEvent": name,
        "comment": r.comment(comment),
        "issue": {k: short[k] for k in ("id", "self", "key", "fields")},
    }


def worklog_event(site: SimSite, name: str, worklog: Worklog) -> dict[str, Any]:
    """``worklog_created`` / ``_updated`` / ``_deleted``."""
    return {
        "timestamp": site.now_ms(),
        "webhookEvent": name,
        "worklog": Renderer(site, "2").worklog(worklog, expand_properties=True),
    }


def sprint_event(site: SimSite, name: str, sprint: Sprint) -> dict[str, Any]:
    """``sprint_created`` / ``_updated`` / ``_started`` / ``_closed``."""
    return {
        "timestamp": site.now_ms(),
        "webhookEvent": name,
        "sprint": Renderer(site, "2").sprint(sprint),
    }


def issuelink_event(site: SimSite, name: str, link: IssueLink) -> dict[str, Any]:
    """``issuelink_created`` / ``issuelink_deleted``."""
    lt = next(t for t in LINK_TYPES if t[0] == link.type_id)
    return {
        "timestamp": site.now_ms(),
        "webhookEvent": name,
        "issueLink": {
            "id": link.id,
            "sourceIssueId": link.outward_issue_id,
            "destinationIssueId": link.inward_issue_id,
            "issueLinkType": {
                "id": int(lt[0]),
                "name": lt[1],
                "outwardName": lt[3],
                "inwardName": lt[2],
                "isSubTaskLinkType": False,
                "isSystemLinkType": False,
            },
            "systemLink": False,
        },
    }
