"""Records -> the JSON Jira sends, for REST v2 (plain text bodies) and v3 (ADF bodies)."""

from __future__ import annotations

from typing import Any

from jirabridge.sim.formats import format_duration, jira_datetime, text_from_adf
from jirabridge.sim.model import (
    FIELD_EPIC_LINK,
    FIELD_EPIC_NAME,
    FIELD_RANK,
    FIELD_SPRINT,
    FIELD_STORY_POINTS,
    ISSUE_TYPES,
    TRANSITIONS,
    Board,
    ChangeGroup,
    Comment,
    Issue,
    IssueLink,
    IssueTypeDef,
    Project,
    RemoteLink,
    Sprint,
    StatusDef,
    User,
    Worklog,
)
from jirabridge.sim.state import LINK_TYPES, SimSite

__all__ = [
    "NAVIGABLE_FIELDS",
    "Renderer",
]

_CATEGORY = {
    "new": (2, "blue-gray", "To Do"),
    "indeterminate": (4, "yellow", "In Progress"),
    "done": (3, "green", "Done"),
}

#: Fields returned for ``*navigable``/``*all`` (ours are all navigable).
NAVIGABLE_FIELDS: tuple[str, ...] = (
    "summary",
    "description",
    "issuetype",
    "project",
    "status",
    "statuscategorychangedate",
    "priority",
    "assignee",
    "reporter",
    "creator",
    "labels",
    "created",
    "updated",
    "resolution",
    "resolutiondate",
    "duedate",
    "parent",
    "subtasks",
    "issuelinks",
    "timetracking",
    "timeoriginalestimate",
    "timeestimate",
    "timespent",
    "aggregatetimespent",
    "progress",
    "worklog",
    "comment",
    "watches",
    "votes",
    "fixVersions",
    "versions",
    "components",
    FIELD_EPIC_NAME,
    FIELD_EPIC_LINK,
    FIELD_STORY_POINTS,
    FIELD_RANK,
    FIELD_SPRINT,
)


class Renderer:
    """Renders records of one site for one REST version (``"2"`` or ``"3"``)."""

    def __init__(self, site: SimSite, version: str) -> None:
        self.site = site
        self.version = version
        self.api = f"{site.base_url}/rest/api/{version}"

    # --------------------------------------------------------------- small pieces

    def body(self, adf: dict[str, Any] | None) -> Any:
        """A rich-text body: ADF on v3, a string on v2."""
        if self.version == "3":
            return adf
        return text_from_adf(adf) if adf is not None else None

    def avatars(self, seed: str) -> dict[str, str]:
        """Avatar URLs of a user or project."""
        base = f"{self.site.base_url}/secure/useravatar?ownerId={seed}"
        return {size: f"{base}&size={size}" for size in ("48x48", "24x24", "16x16", "32x32")}

    def user(self, user: User | None) -> dict[str, Any] | None:
        """A user as Jira embeds it in issues, comments and worklogs."""
        if user is None:
            return None
        if self.site.is_cloud:
            return {
                "self": f"{self.api}/user?accountId={user.account_id}",
                "accountId": user.account_id,
                "emailAddress": user.email,
                "avatarUrls": self.avatars(user.account_id),
                "displayName": user.display_name,
                "active": user.active,
                "timeZone": user.time_zone,
                "accountType": "atlassian",
            }
        return {
            "self": f"{self.api}/user?username={user.name}",
            "name": user.name,
            "key": user.key,
            "emailAddress": user.email,
            "avatarUrls": self.avatars(user.key),
            "displayName": user.display_name,
            "active": user.active,
            "timeZone": user.time_zone,
        }

    def user_by_id(self, uid: str | None) -> dict[str, Any] | None:
        """:meth:`user` by identity."""
        return self.user(self.site.get_user(uid))

    def status(self, status: StatusDef) -> dict[str, Any]:
        """A status with its category."""
        cat_id, color, cat_name = _CATEGORY[status.category_key]
        return {
            "self": f"{self.api}/status/{status.id}",
            "description": "",
            "iconUrl": f"{self.site.base_url}/",
            "name": status.name,
            "id": status.id,
            "statusCategory": {
                "self": f"{self.api}/statuscategory/{cat_id}",
                "id": cat_id,
                "key": status.category_key,
                "colorName": color,
                "name": cat_name,
            },
        }

    def issue_type(self, itype: IssueTypeDef) -> dict[str, Any]:
        """An issue type."""
        return {
            "self": f"{self.api}/issuetype/{itype.id}",
            "id": itype.id,
            "description": itype.description,
            "iconUrl": f"{self.site.base_url}/secure/viewavatar?size=medium&avatarId="
            f"{itype.avatar_id}&avatarType=issuetype",
            "name": itype.name,
            "subtask": itype.subtask,
            "avatarId": itype.avatar_id,
            "hierarchyLevel": itype.hierarchy_level,
        }

    def priority(self, priority_id: str) -> dict[str, Any]:
        """A priority."""
        name = self.site.priority_name(priority_id)
        return {
            "self": f"{self.api}/priority/{priority_id}",
            "iconUrl": f"{self.site.base_url}/images/icons/priorities/{name.lower()}.svg",
            "name": name,
            "id": priority_id,
        }

    def component(self, component_id: str, name: str) -> dict[str, Any]:
        """A component as an issue's ``components`` field shows it."""
        return {"self": f"{self.api}/component/{component_id}", "id": component_id, "name": name}

    def project_component(self, project: Project, component_id: str) -> dict[str, Any]:
        """A component as ``/project/{key}/components`` lists it."""
        return {
            **self.component(component_id, project.components[component_id]),
            "description": "",
            "assigneeType": "PROJECT_DEFAULT",
            "realAssigneeType": "PROJECT_DEFAULT",
            "isAssigneeTypeValid": False,
            "project": project.key,
            "projectId": project.id,
        }

    def project(self, project: Project, *, full: bool = False) -> dict[str, Any]:
        """A project (short form inside issues; ``full`` for ``/project``)."""
        out: dict[str, Any] = {
            "self": f"{self.api}/project/{project.id}",
            "id": str(project.id),
            "key": project.key,
            "name": project.name,
            "projectTypeKey": "software",
            "simplified": False,
            "avatarUrls": self.avatars(f"project-{project.id}"),
        }
        if full:
            out["description"] = ""
            out["lead"] = self.user_by_id(project.lead)
            out["issueTypes"] = [self.issue_type(t) for t in ISSUE_TYPES]
            out["style"] = "classic"
            out["isPrivate"] = False
        return out

        return list(ISSUE_TYPES)

    def linked_issue(self, issue: Issue) -> dict[str, Any]:
        """The short form of an issue inside links, parent and subtasks."""
        return {
            "id": str(issue.id),
            "key": issue.key,
            "self": f"{self.api}/issue/{issue.id}",
            "fields": {
                "summary": issue.summary,
                "status": self.status(self.site.status(issue.status_id)),
                "priority": self.priority(issue.priority_id),
                "issuetype": self.issue_type(self.site.issue_type(issue.issuetype_id)),
            },
        }

    def issue_link(self, link: IssueLink, *, viewed_from: Issue | None = None) -> dict[str, Any]:
        """An issue link; seen from one end it names only the other end, as Jira does."""
        lt = next(t for t in LINK_TYPES if t[0] == link.type_id)
        out: dict[str, Any] = {
            "id": str(link.id),
            "self": f"{self.api}/issueLink/{link.id}",
            "type": {
                "id": lt[0],
                "name": lt[1],
                "inward": lt[2],
                "outward": lt[3],
                "self": f"{self.api}/issueLinkType/{lt[0]}",
            },
        }
        inward = self.site.issues.get(link.inward_issue_id)
        outward = self.site.issues.get(link.outward_issue_id)
        if inward is not None and (viewed_from is None or viewed_from.id != inward.id):
            out["inwardIssue"] = self.linked_issue(inward)
        if outward is not None and (viewed_from is None or viewed_from.id != outward.id):
            out["outwardIssue"] = self.linked_issue(outward)
        return out

    def sprint_field(self, sprint: Sprint) -> dict[str, Any]:
        """A sprint as the Sprint custom field holds it."""
        out: dict[str, Any] = {
            "id": sprint.id,
            "name": sprint.name,
            "state": sprint.state,
            "boardId": sprint.board_id,
            "goal": sprint.goal,
        }
        if sprint.start_ms is not None:
            out["startDate"] = jira_datetime(sprint.start_ms)
        if sprint.end_ms is not None:
            out["endDate"] = jira_datetime(sprint.end_ms)
        if sprint.complete_ms is not None:
            out["completeDate"] = jira_datetime(sprint.complete_ms)
        return out

    # --------------------------------------------------------------- issues

    def field_value(self, issue: Issue, name: str) -> Any:
        """One field of an issue, as Jira renders it on this API version."""
        site = self.site
        match name:
            case "summary":
                return issue.summary
            case "description":
                return self.body(issue.description)
            case "issuetype":
                return self.issue_type(site.issue_type(issue.issuetype_id))
            case "project":
                return self.project(site.projects[issue.project_id])
            case "status":
                return self.status(site.status(issue.status_id))
            case "statuscategorychangedate":
                return jira_datetime(issue.status_changed_ms)
            case "priority":
                return self.priority(issue.priority_id)
            case "assignee":
                return self.user_by_id(issue.assignee)
            case "reporter":
                return self.user_by_id(issue.reporter)
            case "creator":
                return self.user_by_id(issue.creator)
            case "labels":
                return list(issue.labels)
            case "created":
                return jira_datetime(issue.created_ms)
            case "updated":
                return jira_datetime(issue.updated_ms)
            case "resolution":
                if issue.resolution_ms is None:
                    return None
                return {
                    "self": f"{self.api}/resolution/10000",
                    "id": "10000",
                    "description": "Work has been completed on this issue.",
                    "name": "Done",
                }
            case "resolutiondate":
                return jira_datetime(issue.resolution_ms) if issue.resolution_ms else None
            case "duedate":
                return issue.duedate
            case "parent":
                parent = site.issues.get(issue.parent_id) if issue.parent_id else None
                if parent is None or (not site.is_cloud and parent.issuetype_id == "10000"):
                    return None
                return self.linked_issue(parent)
            case "subtasks":
                return [
                    self.linked_issue(i)
                    for i in site.issues.values()
                    if i.parent_id == issue.id and site.issue_type(i.issuetype_id).subtask
                ]
            case "issuelinks":
                return [self.issue_link(x, viewed_from=issue) for x in site.issue_links_of(issue)]
            case "timetracking":
                return self.timetracking(issue)
            case "timeoriginalestimate":
                return issue.original_estimate
            case "timeestimate":
                return issue.remaining_estimate
            case "timespent" | "aggregatetimespent":
                return issue.time_spent or None
            case "progress":
                spent = issue.time_spent
                total = spent + (issue.remaining_estimate or 0)
                out: dict[str, Any] = {"progress": spent, "total": total}
                if total:
                    out["percent"] = int(spent * 100 / total)
                return out
            case "worklog":
                logs = issue.worklogs[:20]
                return {
                    "startAt": 0,
                    "maxResults": 20,
                    "total": len(issue.worklogs),
                    "worklogs": [self.worklog(w) for w in logs],
                }
            case "comment":
                return {
                    "comments": [self.comment(c) for c in issue.comments],
                    "self": f"{self.api}/issue/{issue.id}/comment",
                    "maxResults": len(issue.comments),
                    "total": len(issue.comments),
                    "startAt": 0,
                }
            case "watches":
                return {
                    "self": f"{self.api}/issue/{issue.key}/watchers",
                    "watchCount": 0,
                    "isWatching": False,
                }
            case "votes":
                return {
                    "self": f"{self.api}/issue/{issue.key}/votes",
                    "votes": 0,
                    "hasVoted": False,
                }
            case "components":
                project = site.projects[issue.project_id]
                return [
                    self.component(cid, project.components[cid])
                    for cid in issue.component_ids
                    if cid in project.components
                ]
            case "fixVersions" | "versions":
                return []
        if name == FIELD_EPIC_NAME:
            return issue.epic_name
        if name == FIELD_EPIC_LINK:
            epic = site.epic_of(issue)
            return epic.key if epic is not None else None
        if name == FIELD_STORY_POINTS:
            return issue.story_points
        if name == FIELD_RANK:
            return issue.rank
        if name == FIELD_SPRINT:
            sprints = [site.sprints[i] for i in issue.sprint_ids if i in site.sprints]
            return [self.sprint_field(s) for s in sprints] or None
        return issue.custom.get(name)

    def timetracking(self, issue: Issue) -> dict[str, Any]:
        """The ``timetracking`` field."""
        out: dict[str, Any] = {}
        if issue.original_estimate is not None:
            out["originalEstimate"] = format_duration(issue.original_estimate)
            out["originalEstimateSeconds"] = issue.original_estimate
        if issue.remaining_estimate is not None:
            out["remainingEstimate"] = format_duration(issue.remaining_estimate)
            out["remainingEstimateSeconds"] = issue.remaining_estimate
        if issue.time_spent:
            out["timeSpent"] = format_duration(issue.time_spent)
            out["timeSpentSeconds"] = issue.time_spent
        return out

    def wanted_fields(self, requested: list[str] | None, *, default_all: bool) -> list[str]:
        """Resolve a ``fields`` parameter (``*all``, ``*navigable``, ``-x``) to field names."""
        if not requested:
            return list(NAVIGABLE_FIELDS) if default_all else []
        names: list[str] = []
        excluded: set[str] = set()
        for raw in requested:
            for part in raw.split(","):
                item = part.strip()
                if not item:
                    continue
                if item in ("*all", "*navigable"):
                    names.extend(NAVIGABLE_FIELDS)
                elif item.startswith("-"):
                    excluded.add(item[1:])
                else:
                    names.append(item)
        seen: set[str] = set()
        out: list[str] = []
        for item in names:
            if item not in seen and item not in excluded:
                seen.add(item)
                out.append(item)
        return out

    def issue(
        self,
        issue: Issue,
        *,
        fields: list[str] | None = None,
        default_all: bool = True,
        expand: set[str] | None = None,
        properties: list[str] | None = None,
    ) -> dict[str, Any]:
        """An issue bean with the requested fields and expansions."""
        expand = expand or set()
        names = self.wanted_fields(fields, default_all=default_all)
        field_values: dict[str, Any] = {}
        for name in names:
            if name in ("id", "key"):
                continue
            if name in NAVIGABLE_FIELDS or name in self.site.custom_fields or name in issue.custom:
                field_values[name] = self.field_value(issue, name)
        out: dict[str, Any] = {
            "expand": "renderedFields,names,schema,operations,editmeta,changelog,"
            "versionedRepresentations",
            "id": str(issue.id),
            "self": f"{self.api}/issue/{issue.id}",
            "key": issue.key,
            "fields": field_values,
        }
        if "changelog" in expand:
            out["changelog"] = self.changelog_page(issue.changelog, 0, len(issue.changelog))
        if "names" in expand:
            out["names"] = {n: self.field_name(n) for n in field_values}
        if "transitions" in expand:
            out["transitions"] = self.transitions(issue)
        if properties:
            wanted: set[str] = set()
            for raw in properties:
                wanted.update(p.strip() for p in raw.split(",") if p.strip())
            out["properties"] = {
                k: v for k, v in issue.properties.items() if k in wanted or "*all" in wanted
            }
        return out

    def field_name(self, field_id: str) -> str:
        """A field's display name."""
        if field_id in self.site.custom_fields:
            return self.site.custom_fields[field_id][0]
        return {
            "issuetype": "Issue Type",
            "statuscategorychangedate": "Status Category Changed",
            "duedate": "Due date",
            "timetracking": "Time tracking",
            "issuelinks": "Linked Issues",
            "subtasks": "Sub-tasks",
        }.get(field_id, field_id[:1].upper() + field_id[1:])

    def transitions(self, issue: Issue) -> list[dict[str, Any]]:
        """Transitions available now."""
        out = []
        for t in TRANSITIONS:
            if t.to_status == issue.status_id:
                continue
            out.append(
                {
                    "id": t.id,
                    "name": t.name,
                    "to": self.status(self.site.status(t.to_status)),
                    "hasScreen": False,
                    "isGlobal": True,
                    "isInitial": False,
                    "isAvailable": True,
                    "isConditional": False,
                    "isLooped": False,
                }
            )
        return out

    def change_group(self, group: ChangeGroup, *, nulls: bool = False) -> dict[str, Any]:
        """A changelog entry; webhooks send empty sides as null (``nulls``), REST leaves them out
        (the spec declares them as non-nullable strings)."""
        items = []
        for item in group.items:
            out: dict[str, Any] = {"field": item.field, "fieldtype": item.fieldtype}
            if item.field_id:
                out["fieldId"] = item.field_id
            sides = {
                "from": item.from_value,
                "fromString": item.from_string,
                "to": item.to_value,
                "toString": item.to_string,
            }
            out.update({k: v for k, v in sides.items() if nulls or v is not None})
            items.append(out)
        return {
            "id": str(group.id),
            "author": self.user_by_id(group.author),
            "created": jira_datetime(group.created_ms),
            "items": items,
        }

    def changelog_page(self, groups: list[ChangeGroup], start: int, size: int) -> dict[str, Any]:
        """A ``PageOfChangelogs``."""
        page = groups[start : start + size]
        return {
            "startAt": start,
            "maxResults": size,
            "total": len(groups),
            "histories": [self.change_group(g) for g in page],
        }

    # --------------------------------------------------------------- children

    def comment(self, comment: Comment, *, expand_properties: bool = False) -> dict[str, Any]:
        """A comment."""
        out: dict[str, Any] = {
            "self": f"{self.api}/issue/{comment.issue_id}/comment/{comment.id}",
            "id": str(comment.id),
            "author": self.user_by_id(comment.author),
            "body": self.body(comment.body),
            "updateAuthor": self.user_by_id(comment.update_author),
            "created": jira_datetime(comment.created_ms),
            "updated": jira_datetime(comment.updated_ms),
        }
        if self.site.is_cloud:
            out["jsdPublic"] = True
        if comment.visibility:
            out["visibility"] = comment.visibility
        if expand_properties:
            out["properties"] = [{"key": k, "value": v} for k, v in comment.properties.items()]
        return out

    def worklog(self, worklog: Worklog, *, expand_properties: bool = False) -> dict[str, Any]:
        """A worklog."""
        out: dict[str, Any] = {
            "self": f"{self.api}/issue/{worklog.issue_id}/worklog/{worklog.id}",
            "author": self.user_by_id(worklog.author),
            "updateAuthor": self.user_by_id(worklog.update_author),
        }
        if worklog.comment is not None:
            out["comment"] = self.body(worklog.comment)
        out.update(
            {
                "created": jira_datetime(worklog.created_ms),
                "updated": jira_datetime(worklog.updated_ms),
                "started": jira_datetime(worklog.started_ms),
                "timeSpent": format_duration(worklog.time_spent_seconds),
                "timeSpentSeconds": worklog.time_spent_seconds,
                "id": str(worklog.id),
                "issueId": str(worklog.issue_id),
            }
        )
        if worklog.visibility:
            out["visibility"] = worklog.visibility
        if expand_properties:
            out["properties"] = [{"key": k, "value": v} for k, v in worklog.properties.items()]
        return out

    def remote_link(self, link: RemoteLink) -> dict[str, Any]:
        """A remote link."""
        out: dict[str, Any] = {
            "id": link.id,
            "self": f"{self.api}/issue/{link.issue_id}/remotelink/{link.id}",
            "object": link.object,
        }
        if link.global_id is not None:
            out["globalId"] = link.global_id
        if link.application is not None:
            out["application"] = link.application
        if link.relationship is not None:
            out["relationship"] = link.relationship
        return out

    # --------------------------------------------------------------- agile

    def board(self, board: Board) -> dict[str, Any]:
        """An agile board."""
        project = self.site.projects[board.project_id]
        return {
            "id": board.id,
            "self": f"{self.site.base_url}/rest/agile/1.0/board/{board.id}",
            "name": board.name,
            "type": board.type,
            "location": {
                "projectId": project.id,
                "displayName": f"{project.name} ({project.key})",
                "projectName": project.name,
                "projectKey": project.key,
                "projectTypeKey": "software",
                "name": f"{project.name} ({project.key})",
            },
        }

    def sprint(self, sprint: Sprint) -> dict[str, Any]:
        """An agile sprint."""
        out: dict[str, Any] = {
            "id": sprint.id,
            "self": f"{self.site.base_url}/rest/agile/1.0/sprint/{sprint.id}",
            "state": sprint.state,
            "name": sprint.name,
        }
        if sprint.start_ms is not None:
            out["startDate"] = jira_datetime(sprint.start_ms)
        if sprint.end_ms is not None:
            out["endDate"] = jira_datetime(sprint.end_ms)
        if sprint.complete_ms is not None:
            out["completeDate"] = jira_datetime(sprint.complete_ms)
        out["createdDate"] = jira_datetime(sprint.created_ms)
        out["originBoardId"] = sprint.board_id
        out["goal"] = sprint.goal
        return out

    def epic(self, issue: Issue) -> dict[str, Any]:
        """An epic as the agile API describes it."""
        return {
            "id": issue.id,
            "key": issue.key,
            "self": f"{self.site.base_url}/rest/agile/1.0/epic/{issue.id}",
            "name": issue.epic_name or issue.summary,
            "summary": issue.summary,
            "color": {"key": "color_1"},
            "done": self.site.status(issue.status_id).category_key == "done",
        }
