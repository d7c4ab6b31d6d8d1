"""Issue operations: create, edit, delete, assign, transition, with changelog and events."""

from __future__ import annotations

import copy
import re
from typing import Any

from jirabridge.sim import payloads
from jirabridge.sim.errors import SimHTTPError
from jirabridge.sim.formats import adf_from_text, parse_duration, text_from_adf
from jirabridge.sim.model import (
    FIELD_EPIC_LINK,
    FIELD_EPIC_NAME,
    FIELD_RANK,
    FIELD_SPRINT,
    FIELD_STORY_POINTS,
    ISSUE_TYPES,
    PRIORITIES,
    TRANSITIONS,
    ChangeGroup,
    ChangeItem,
    Issue,
)
from jirabridge.sim.state import SimSite

__all__ = [
    "assign_issue",
    "change_sprints",
    "create_issue",
    "delete_issue",
    "edit_issue",
    "parse_body",
    "set_status",
    "transition_issue",
]

_ADF_REQUIRED = "Operation value must be an Atlassian Document (see the Atlassian Document Format)."
_UNKNOWN_FIELD = "Field '{}' cannot be set. It is not on the appropriate screen, or unknown."
_LABEL_RE = re.compile(r"^\S+$")
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_SYSTEM_SETTABLE = {
    "project",
    "issuetype",
    "summary",
    "description",
    "assignee",
    "reporter",
    "labels",
    "components",
    "priority",
    "parent",
    "duedate",
    "timetracking",
    FIELD_EPIC_LINK,
    FIELD_EPIC_NAME,
    FIELD_STORY_POINTS,
    FIELD_SPRINT,
}


def parse_body(value: Any, version: str, field_name: str) -> dict[str, Any] | None:
    """A rich-text body: ADF on v3 (a string is refused, as Jira does), a string on v2."""
    if value is None:
        return None
    if version == "3":
        if not isinstance(value, dict) or value.get("type") != "doc":
            raise SimHTTPError(
                400,
                errors={field_name: _ADF_REQUIRED},
            )
        return value
    if not isinstance(value, str):
        raise SimHTTPError(400, errors={field_name: "Operation value must be a string"})
    return adf_from_text(value)


def _points_text(value: float | None) -> str | None:
    if value is None:
        return None
    return str(int(value)) if value == int(value) else str(value)


def _item(
    name: str,
    field_id: str,
    before: tuple[str | None, str | None],
    after: tuple[str | None, str | None],
    *,
    custom: bool = False,
) -> ChangeItem:
    return ChangeItem(
        field=name,
        fieldtype="custom" if custom else "jira",
        field_id=field_id,
        from_value=before[0],
        from_string=before[1],
        to_value=after[0],
        to_string=after[1],
    )


class _FieldSetter:
    """Applies ``fields``/``update`` to an issue, collecting changelog items."""

    def __init__(self, site: SimSite, issue: Issue, version: str, *, creating: bool) -> None:
        self.site = site
        self.issue = issue
        self.version = version
        self.creating = creating
        self.items: list[ChangeItem] = []
        self.errors: dict[str, str] = {}

    def apply(self, name: str, value: Any) -> None:
        try:
            self._apply(name, value)
        except SimHTTPError as exc:
            self.errors.update(exc.errors or {name: "; ".join(exc.messages)})

    def _user_pair(self, uid: str | None) -> tuple[str | None, str | None]:
        return (uid, self.site.user_label(uid))

    def _apply(self, name: str, value: Any) -> None:
        site, issue = self.site, self.issue
        if name == "summary":
            if not isinstance(value, str) or not value.strip():
                raise SimHTTPError(
                    400, errors={"summary": "You must specify a summary of the issue."}
                )
            if len(value) > 255:
                raise SimHTTPError(
                    400, errors={"summary": "Summary must be less than 255 characters."}
                )
            if value != issue.summary:
                self.items.append(_item("summary", "summary", (None, issue.summary), (None, value)))
                issue.summary = value
        elif name == "description":
            doc = parse_body(value, self.version, "description")
            before = text_from_adf(issue.description) if issue.description else None
            after = text_from_adf(doc) if doc else None
            if doc != issue.description:
                self.items.append(
                    _item("description", "description", (None, before), (None, after))
                )
                issue.description = doc
        elif name in ("assignee", "reporter"):
            uid = site.find_user_ref(value, field_name=name)
            current = getattr(issue, name)
            if uid != current:
                self.items.append(_item(name, name, self._user_pair(current), self._user_pair(uid)))
                setattr(issue, name, uid)
        elif name == "labels":
            if not isinstance(value, list) or not all(
                isinstance(x, str) and _LABEL_RE.match(x) for x in value
            ):
                raise SimHTTPError(400, errors={"labels": "The label must not contain spaces."})
            self._set_labels(list(dict.fromkeys(value)))
        elif name == "components":
            self._set_components(value)
        elif name == "priority":
            pid = None
            if isinstance(value, dict):
                pid = value.get("id") or next(
                    (i for i, n in PRIORITIES if n == value.get("name")), None
                )
            if pid not in dict(PRIORITIES):
                raise SimHTTPError(
                    400,
                    errors={"priority": "Specify the Priority (id or name) in the proper format"},
                )
            assert isinstance(pid, str)
            if pid != issue.priority_id:
                self.items.append(
                    _item(
                        "priority",
                        "priority",
                        (issue.priority_id, site.priority_name(issue.priority_id)),
                        (pid, site.priority_name(pid)),
                    )
                )
                issue.priority_id = pid
        elif name == "parent":
            self._set_parent(value)
        elif name == FIELD_EPIC_LINK:
            if value is None:
                self._set_parent_issue(None, "Epic Link")
                return
            epic = site.find_issue(str(value))
            if epic is None or epic.issuetype_id != "10000":
                raise SimHTTPError(400, errors={FIELD_EPIC_LINK: f"Epic '{value}' does not exist."})
            self._set_parent_issue(epic, "Epic Link")
        elif name == FIELD_EPIC_NAME:
            if value is not None and not isinstance(value, str):
                raise SimHTTPError(400, errors={FIELD_EPIC_NAME: "Epic Name must be a string."})
            if value != issue.epic_name:
                self.items.append(
                    _item(
                        "Epic Name",
                        FIELD_EPIC_NAME,
                        (None, issue.epic_name),
                        (None, value),
                        custom=True,
                    )
                )
                issue.epic_name = value
        elif name == FIELD_STORY_POINTS:
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int | float)
            ):
                raise SimHTTPError(
                    400, errors={FIELD_STORY_POINTS: "Operation value must be a number"}
                )
            points = float(value) if value is not None else None
            if points != issue.story_points:
                self.items.append(
                    _item(
                        "Story point estimate",
                        FIELD_STORY_POINTS,
                        (None, _points_text(issue.story_points)),
                        (None, _points_text(points)),
                        custom=True,
                    )
                )
                issue.story_points = points
        elif name == FIELD_SPRINT:
            if value is None:
                ids: list[int] = [i for i in issue.sprint_ids if site.sprints[i].state == "closed"]
            else:
                sprint_id = (
                    value
                    if isinstance(value, int)
                    else (int(value) if isinstance(value, str) and value.isdigit() else None)
                )
                if sprint_id is None or sprint_id not in site.sprints:
                    raise SimHTTPError(
                        400, errors={FIELD_SPRINT: "Number value expected as the Sprint id."}
                    )
                ids = [i for i in issue.sprint_ids if site.sprints[i].state == "closed"]
                ids.append(sprint_id)
            self.items.extend(change_sprints(site, issue, ids))
        elif name == "duedate":
            if value is not None and (not isinstance(value, str) or not _DATE_RE.match(value)):
                raise SimHTTPError(
                    400, errors={"duedate": "Error parsing date string: " + str(value)}
                )
            if value != issue.duedate:
                self.items.append(
                    _item("duedate", "duedate", (issue.duedate, issue.duedate), (value, value))
                )
                issue.duedate = value
        elif name == "timetracking":
            if not isinstance(value, dict):
                raise SimHTTPError(400, errors={"timetracking": "Invalid time tracking value."})
            try:
                if "originalEstimate" in value:
                    issue.original_estimate = parse_duration(str(value["originalEstimate"]))
                    if issue.remaining_estimate is None:
                        issue.remaining_estimate = issue.original_estimate
                if "remainingEstimate" in value:
                    issue.remaining_estimate = parse_duration(str(value["remainingEstimate"]))
            except ValueError:
                raise SimHTTPError(
                    400, errors={"timetracking": "Invalid time duration entered."}
                ) from None
        elif name in ("project", "issuetype"):
            if not self.creating:
                raise SimHTTPError(400, errors={name: f"Field '{name}' cannot be changed here."})
        elif name == FIELD_RANK:
            raise SimHTTPError(
                400, errors={name: "Rank is changed through the agile rank operation."}
            )
        elif name.startswith("customfield_"):
            if name not in site.custom_fields:
                raise SimHTTPError(
                    400,
                    errors={name: _UNKNOWN_FIELD.format(name)},
                )
            issue.custom[name] = value
        else:
            raise SimHTTPError(
                400,
                errors={name: _UNKNOWN_FIELD.format(name)},
            )

    def _set_components(self, value: Any) -> None:
        # Jira takes [{"id": ...}] or [{"name": ...}] from the issue's project, and names the
        # first one it cannot resolve.
        if not isinstance(value, list):
            raise SimHTTPError(400, errors={"components": "data was not an array"})
        project = self.site.projects[self.issue.project_id]
        by_name = {name: cid for cid, name in project.components.items()}
        ids: list[str] = []
        for ref in value:
            cid = None
            if isinstance(ref, dict) and ref.get("id") is not None:
                cid = str(ref["id"])
                if cid not in project.components:
                    raise SimHTTPError(
                        400, errors={"components": f"Component with id '{cid}' does not exist."}
                    )
            elif isinstance(ref, dict) and isinstance(ref.get("name"), str):
                cid = by_name.get(ref["name"])
                if cid is None:
                    raise SimHTTPError(
                        400, errors={"components": f"Component name '{ref['name']}' is not valid"}
                    )
            else:
                raise SimHTTPError(
                    400, errors={"components": "Specify a component by its id or name."}
                )
            if cid not in ids:
                ids.append(cid)
        issue = self.issue
        if ids != issue.component_ids:
            names = project.components
            self.items.append(
                _item(
                    "Component",
                    "components",
                    (None, ", ".join(names[c] for c in issue.component_ids if c in names) or None),
                    (None, ", ".join(names[c] for c in ids) or None),
                )
            )
            issue.component_ids = ids

    def _set_labels(self, labels: list[str]) -> None:
        issue = self.issue
        if labels != issue.labels:
            before = " ".join(issue.labels) or None
            self.items.append(
                _item("labels", "labels", (None, before), (None, " ".join(labels) or None))
            )
            issue.labels = labels

    def _set_parent(self, value: Any) -> None:
        if value is None or value == {}:
            self._set_parent_issue(None, "IssueParentAssociation")
            return
        if not isinstance(value, dict):
            raise SimHTTPError(400, errors={"parent": "Could not find issue by id or key."})
        ref = value.get("key") or value.get("id")
        parent = self.site.find_issue(str(ref)) if ref is not None else None
        if parent is None:
            raise SimHTTPError(400, errors={"parent": "Could not find issue by id or key."})
        mine = self.site.issue_type(self.issue.issuetype_id)
        theirs = self.site.issue_type(parent.issuetype_id)
        if theirs.hierarchy_level != mine.hierarchy_level + 1:
            raise SimHTTPError(
                400,
                errors={"parent": "Given parent issue does not belong to appropriate hierarchy."},
            )
        if not self.site.is_cloud and not mine.subtask:
            raise SimHTTPError(
                400,
                errors={"parent": "On Data Center only sub-tasks take a parent; use Epic Link."},
            )
        self._set_parent_issue(parent, "IssueParentAssociation")

    def _set_parent_issue(self, parent: Issue | None, field_name: str) -> None:
        issue, site = self.issue, self.site
        new_id = parent.id if parent is not None else None
        if new_id == issue.parent_id:
            return
        old = site.issues.get(issue.parent_id) if issue.parent_id else None
        field_id = FIELD_EPIC_LINK if field_name == "Epic Link" else "parent"
        self.items.append(
            _item(
                field_name,
                field_id,
                (str(old.id) if old else None, old.key if old else None),
                (str(parent.id) if parent else None, parent.key if parent else None),
                custom=field_name == "Epic Link",
            )
        )
        issue.parent_id = new_id

    def apply_update(self, update: dict[str, Any]) -> None:
        """The ``update`` verbs (``set``/``add``/``remove``/``edit``) Jira accepts per field."""
        for name, ops in update.items():
            if not isinstance(ops, list):
                self.errors[name] = "Update operations must be a list."
                continue
            for op in ops:
                if not isinstance(op, dict) or len(op) != 1:
                    self.errors[name] = "Each update operation must have exactly one verb."
                    continue
                verb, arg = next(iter(op.items()))
                if name == "labels" and verb in ("add", "remove"):
                    labels = list(self.issue.labels)
                    if verb == "add" and arg not in labels:
                        labels.append(arg)
                    if verb == "remove" and arg in labels:
                        labels.remove(arg)
                    self.apply("labels", labels)
                elif verb in ("set", "edit"):
                    self.apply(name, arg)
                else:
                    self.errors[name] = f"Operation '{verb}' is not supported for field '{name}'."


def change_sprints(site: SimSite, issue: Issue, ids: list[int]) -> list[ChangeItem]:
    """Set an issue's sprints; the changelog item Jira Software writes for it."""
    ids = list(dict.fromkeys(ids))
    if ids == issue.sprint_ids:
        return []
    item = _item(
        "Sprint",
        FIELD_SPRINT,
        (", ".join(map(str, issue.sprint_ids)) or None, site.sprint_label(issue.sprint_ids)),
        (", ".join(map(str, ids)) or None, site.sprint_label(ids)),
        custom=True,
    )
    issue.sprint_ids = ids
    return [item]


def _check_fields(fields: Any) -> dict[str, Any]:
    if not isinstance(fields, dict):
        raise SimHTTPError(400, ["Request body must have a 'fields' object."])
    return fields


def create_issue(
    site: SimSite,
    body: dict[str, Any],
    version: str,
    actor: str,
    *,
    created_ms: int | None = None,
    emit: bool = True,
) -> Issue:
    """Create an issue from an ``IssueUpdateDetails`` body; 400 with field errors when invalid."""
    fields = _check_fields(body.get("fields", {}))
    errors: dict[str, str] = {}
    project_ref = fields.get("project")
    project = None
    if isinstance(project_ref, dict) and (project_ref.get("id") or project_ref.get("key")):
        try:
            project = site.project_by_ref(project_ref.get("id") or project_ref["key"])
        except SimHTTPError:
            errors["project"] = "valid project is required"
    else:
        errors["project"] = "Specify a valid project ID or key"
    type_ref = fields.get("issuetype")
    itype = None
    if isinstance(type_ref, dict):
        for t in ISSUE_TYPES:
            if type_ref.get("id") == t.id or (type_ref.get("name") or "").lower() == t.name.lower():
                itype = t
    if itype is None:
        errors["issuetype"] = "Specify an issue type"
    if "summary" not in fields:
        errors["summary"] = "You must specify a summary of the issue."
    if itype is not None and itype.subtask and not fields.get("parent"):
        errors["parent"] = "Sub-task issues must have a parent."
    if (
        itype is not None
        and itype.name == "Epic"
        and not site.is_cloud
        and not fields.get(FIELD_EPIC_NAME)
    ):
        errors[FIELD_EPIC_NAME] = "Epic Name is required."
    if errors or project is None or itype is None:
        raise SimHTTPError(400, errors=errors)
    now = created_ms if created_ms is not None else site.now_ms()
    issue_id = site.next_id("issue")
    issue = Issue(
        id=issue_id,
        key=f"{project.key}-{project.next_number}",
        project_id=project.id,
        issuetype_id=itype.id,
        summary="",
        status_id="10000",
        reporter=actor,
        creator=actor,
        created_ms=now,
        updated_ms=now,
        status_changed_ms=now,
        rank=f"0|i{issue_id - 9000:05x}:",
    )
    setter = _FieldSetter(site, issue, version, creating=True)
    for name, value in fields.items():
        setter.apply(name, value)
    if isinstance(body.get("update"), dict):
        setter.apply_update(body["update"])
    props = body.get("properties")
    if props is not None:
        if not isinstance(props, list) or not all(
            isinstance(p, dict) and isinstance(p.get("key"), str) for p in props
        ):
            setter.errors["properties"] = "Properties must be a list of {key, value}."
        else:
            for p in props:
                issue.properties[p["key"]] = p.get("value")
    if setter.errors:
        raise SimHTTPError(400, errors=setter.errors)
    project.next_number += 1
    site.issues[issue.id] = issue
    site.keys[issue.key] = issue.id
    group = ChangeGroup(site.next_id("changegroup"), actor, now, [])
    site.reindex(issue)
    if emit:
        site.emit(
            "jira:issue_created",
            payloads.issue_event(site, "jira:issue_created", "issue_created", issue, actor, group),
            issue=issue,
        )
    return issue


def edit_issue(
    site: SimSite,
    issue: Issue,
    body: dict[str, Any],
    version: str,
    actor: str,
    *,
    at_ms: int | None = None,
) -> ChangeGroup | None:
    """Edit fields (``fields`` and ``update``), all or nothing; records one changelog entry."""
    fields = _check_fields(body.get("fields", {}))
    update = body.get("update", {})
    if not isinstance(update, dict):
        raise SimHTTPError(400, ["'update' must be an object."])
    # Work on a copy so a refused edit leaves the issue untouched (Jira is all or nothing).
    draft = copy.copy(issue)
    draft.labels = list(issue.labels)
    draft.sprint_ids = list(issue.sprint_ids)
    draft.custom = dict(issue.custom)
    setter = _FieldSetter(site, draft, version, creating=False)
    for name, value in fields.items():
        setter.apply(name, value)
    setter.apply_update(update)
    props = body.get("properties")
    if setter.errors:
        raise SimHTTPError(400, errors=setter.errors)
    for attr in (
        "summary",
        "description",
        "assignee",
        "reporter",
        "labels",
        "priority_id",
        "parent_id",
        "epic_name",
        "story_points",
        "sprint_ids",
        "duedate",
        "original_estimate",
        "remaining_estimate",
        "custom",
    ):
        setattr(issue, attr, getattr(draft, attr))
    if isinstance(props, list):
        for p in props:
            if isinstance(p, dict) and isinstance(p.get("key"), str):
                issue.properties[p["key"]] = p.get("value")
    if not setter.items:
        return None
    return _commit(site, issue, actor, setter.items, at_ms=at_ms)


def _commit(
    site: SimSite, issue: Issue, actor: str, items: list[ChangeItem], *, at_ms: int | None = None
) -> ChangeGroup:
    group = site.record_change(issue, actor, items)
    if at_ms is not None:
        group.created_ms = at_ms
        issue.updated_ms = max(at_ms, issue.created_ms)
    type_name = "issue_updated"
    if len(items) == 1 and items[0].field == "assignee":
        type_name = "issue_assigned"
    elif any(i.field == "status" for i in items):
        type_name = "issue_generic"
    site.emit(
        "jira:issue_updated",
        payloads.issue_event(site, "jira:issue_updated", type_name, issue, actor, group),
        issue=issue,
    )
    return group


def assign_issue(site: SimSite, issue: Issue, ref: Any, actor: str) -> None:
    """``PUT /issue/{key}/assignee``."""
    uid = site.find_user_ref(ref, field_name="assignee")
    if uid == issue.assignee:
        return
    item = _item(
        "assignee",
        "assignee",
        (issue.assignee, site.user_label(issue.assignee)),
        (uid, site.user_label(uid)),
    )
    issue.assignee = uid
    _commit(site, issue, actor, [item])


def set_status(
    site: SimSite, issue: Issue, status_id: str, actor: str, *, at_ms: int | None = None
) -> ChangeGroup | None:
    """Move an issue to a status (resolution follows the done category), with changelog."""
    if status_id == issue.status_id:
        return None
    old, new = site.status(issue.status_id), site.status(status_id)
    items = [_item("status", "status", (old.id, old.name), (new.id, new.name))]
    when = at_ms if at_ms is not None else site.now_ms()
    if new.category_key == "done" and issue.resolution_ms is None:
        items.insert(0, _item("resolution", "resolution", (None, None), ("10000", "Done")))
        issue.resolution_ms = when
    elif new.category_key != "done" and issue.resolution_ms is not None:
        items.insert(0, _item("resolution", "resolution", ("10000", "Done"), (None, None)))
        issue.resolution_ms = None
    issue.status_id = status_id
    issue.status_changed_ms = when
    return _commit(site, issue, actor, items, at_ms=at_ms)


def transition_issue(
    site: SimSite, issue: Issue, body: dict[str, Any], version: str, actor: str
) -> None:
    """``POST /issue/{key}/transitions``: check the transition, apply fields, change status."""
    transition = body.get("transition")
    tid = transition.get("id") if isinstance(transition, dict) else None
    match = next((t for t in TRANSITIONS if t.id == str(tid)), None)
    if match is None or match.to_status == issue.status_id:
        raise SimHTTPError(
            400,
            [f"Transition id '{tid}' is not valid for this issue."],
        )
    if body.get("fields") or body.get("update"):
        edit_issue(
            site,
            issue,
            {"fields": body.get("fields", {}), "update": body.get("update", {})},
            version,
            actor,
        )
    set_status(site, issue, match.to_status, actor)


def delete_issue(site: SimSite, issue: Issue, actor: str, *, delete_subtasks: bool) -> None:
    """``DELETE /issue/{key}``; refuses when sub-tasks exist unless told to delete them."""
    subtasks = [
        i
        for i in site.issues.values()
        if i.parent_id == issue.id and site.issue_type(i.issuetype_id).subtask
    ]
    if subtasks and not delete_subtasks:
        raise SimHTTPError(
            400,
            [f"The issue '{issue.key}' has subtasks. Set deleteSubtasks=true to delete them too."],
        )
    for sub in subtasks:
        delete_issue(site, sub, actor, delete_subtasks=False)
    payload = payloads.issue_deleted_event(site, issue, actor)
    for link_id in [link.id for link in site.issue_links_of(issue)]:
        site.links.pop(link_id, None)
    for worklog in issue.worklogs:
        site.worklog_index.pop(worklog.id, None)
        site.deleted_worklogs.append((worklog.id, site.now_ms()))
    for child in site.issues.values():
        if child.parent_id == issue.id:
            child.parent_id = None
    del site.issues[issue.id]
    site.keys.pop(issue.key, None)
    site.reindex(issue, deleted=True)
    site.emit("jira:issue_deleted", payload, issue=issue)
