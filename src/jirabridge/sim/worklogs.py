"""Worklog operations: add, update, delete with estimates, properties and Jira's checks."""

from __future__ import annotations

from typing import Any

from jirabridge.sim import payloads
from jirabridge.sim.errors import SimHTTPError
from jirabridge.sim.formats import parse_duration, parse_jira_datetime
from jirabridge.sim.issues import parse_body
from jirabridge.sim.model import ChangeItem, Issue, Worklog
from jirabridge.sim.state import SimSite

__all__ = ["add_worklog", "delete_worklog", "update_worklog"]

_DATE_FORMAT_MESSAGE = (
    "Invalid date format. Please enter the date in the format \"yyyy-MM-dd'T'HH:mm:ss.SSSZ\"."
)


def _seconds(body: dict[str, Any], *, required: bool) -> int | None:
    if "timeSpent" in body and "timeSpentSeconds" in body:
        raise SimHTTPError(
            400, errors={"timeLogged": "Specify either timeSpent or timeSpentSeconds, not both."}
        )
    if "timeSpentSeconds" in body:
        value = body["timeSpentSeconds"]
        if isinstance(value, bool) or not isinstance(value, int):
            raise SimHTTPError(
                400, errors={"timeLogged": "Time spent must be a whole number of seconds."}
            )
        seconds = value
    elif "timeSpent" in body:
        try:
            seconds = parse_duration(str(body["timeSpent"]))
        except ValueError:
            raise SimHTTPError(
                400, errors={"timeLogged": "Invalid time duration entered."}
            ) from None
    elif required:
        raise SimHTTPError(400, errors={"timeLogged": "You must indicate the time spent working."})
    else:
        return None
    if seconds < 60:
        raise SimHTTPError(400, errors={"timeLogged": "Time spent must be at least one minute."})
    return seconds


def _started(body: dict[str, Any], *, required: bool) -> int | None:
    if "started" not in body:
        if required:
            raise SimHTTPError(400, errors={"started": "You must specify a start date."})
        return None
    value = body["started"]
    try:
        return parse_jira_datetime(value if isinstance(value, str) else "")
    except ValueError:
        raise SimHTTPError(400, errors={"started": _DATE_FORMAT_MESSAGE}) from None


def _properties(body: dict[str, Any]) -> dict[str, Any] | None:
    props = body.get("properties")
    if props is None:
        return None
    if not isinstance(props, list) or not all(
        isinstance(p, dict) and isinstance(p.get("key"), str) and 0 < len(p["key"]) <= 255
        for p in props
    ):
        raise SimHTTPError(400, errors={"properties": "Properties must be a list of {key, value}."})
    return {p["key"]: p.get("value") for p in props}


def _adjust(issue: Issue, params: dict[str, str], delta: int, *, verb: str) -> None:
    """Apply ``adjustEstimate`` (auto/new/leave/manual) to the remaining estimate."""
    mode = params.get("adjustEstimate", "auto")
    allowed = {
        "POST": ("auto", "new", "leave", "manual"),
        "PUT": ("auto", "new", "leave"),
        "DELETE": ("auto", "new", "leave", "manual"),
    }[verb]
    if mode not in allowed:
        raise SimHTTPError(
            400, errors={"adjustEstimate": f"Invalid value '{mode}' for adjustEstimate."}
        )
    try:
        if mode == "auto":
            if issue.remaining_estimate is not None:
                issue.remaining_estimate = max(0, issue.remaining_estimate - delta)
        elif mode == "new":
            if "newEstimate" not in params:
                raise SimHTTPError(
                    400, errors={"newEstimate": "You must supply a valid new estimate."}
                )
            issue.remaining_estimate = parse_duration(params["newEstimate"])
        elif mode == "manual":
            key = "reduceBy" if verb == "POST" else "increaseBy"
            if key not in params:
                raise SimHTTPError(400, errors={key: f"You must supply a valid {key}."})
            amount = parse_duration(params[key])
            current = issue.remaining_estimate or 0
            issue.remaining_estimate = max(
                0, current - amount if verb == "POST" else current + amount
            )
    except ValueError:
        raise SimHTTPError(400, errors={"newEstimate": "Invalid time duration entered."}) from None


def _note(site: SimSite, issue: Issue, actor: str, before: int, worklog_id: int) -> None:
    site.record_change(
        issue,
        actor,
        [
            ChangeItem(
                "timespent",
                "jira",
                "timespent",
                str(before or "") or None,
                str(before or "") or None,
                str(issue.time_spent),
                str(issue.time_spent),
            ),
            ChangeItem("WorklogId", "jira", "", None, None, str(worklog_id), str(worklog_id)),
        ],
    )


def add_worklog(
    site: SimSite,
    issue: Issue,
    body: dict[str, Any],
    params: dict[str, str],
    version: str,
    actor: str,
) -> Worklog:
    """``POST /issue/{key}/worklog``."""
    seconds = _seconds(body, required=True)
    started = _started(body, required=True)
    props = _properties(body) or {}
    comment = parse_body(body.get("comment"), version, "comment")
    assert seconds is not None
    assert started is not None
    before = issue.time_spent
    _adjust(issue, params, seconds, verb="POST")
    now = site.now_ms()
    worklog = Worklog(
        id=site.next_id("worklog"),
        issue_id=issue.id,
        author=actor,
        update_author=actor,
        comment=comment,
        created_ms=now,
        updated_ms=now,
        started_ms=started,
        time_spent_seconds=seconds,
        visibility=body.get("visibility"),
        properties=props,
    )
    issue.worklogs.append(worklog)
    site.worklog_index[worklog.id] = worklog
    _note(site, issue, actor, before, worklog.id)
    site.emit(
        "worklog_created",
        payloads.worklog_event(site, "worklog_created", worklog),
        issue=issue,
        meta={"notifyUsers": params.get("notifyUsers", "true") != "false"},
    )
    return worklog


def find_worklog(issue: Issue, worklog_id: str) -> Worklog:
    """A worklog of the issue; 404 in Jira's words."""
    for worklog in issue.worklogs:
        if str(worklog.id) == worklog_id:
            return worklog
    raise SimHTTPError(404, [f"Cannot find worklog with id: '{worklog_id}'."])


def update_worklog(
    site: SimSite,
    issue: Issue,
    worklog: Worklog,
    body: dict[str, Any],
    params: dict[str, str],
    version: str,
    actor: str,
) -> Worklog:
    """``PUT /issue/{key}/worklog/{id}``: only what the body carries changes."""
    seconds = _seconds(body, required=False)
    started = _started(body, required=False)
    props = _properties(body)
    comment = (
        parse_body(body["comment"], version, "comment") if "comment" in body else worklog.comment
    )
    before = issue.time_spent
    if seconds is not None:
        _adjust(issue, params, seconds - worklog.time_spent_seconds, verb="PUT")
        worklog.time_spent_seconds = seconds
    if started is not None:
        worklog.started_ms = started
    if props is not None:
        worklog.properties.update(props)
    if "visibility" in body:
        worklog.visibility = body["visibility"]
    worklog.comment = comment
    worklog.update_author = actor
    worklog.updated_ms = site.now_ms()
    _note(site, issue, actor, before, worklog.id)
    site.emit(
        "worklog_updated",
        payloads.worklog_event(site, "worklog_updated", worklog),
        issue=issue,
        meta={"notifyUsers": params.get("notifyUsers", "true") != "false"},
    )
    return worklog


def delete_worklog(
    site: SimSite, issue: Issue, worklog: Worklog, params: dict[str, str], actor: str
) -> None:
    """``DELETE /issue/{key}/worklog/{id}``; remembered for ``/worklog/deleted``."""
    before = issue.time_spent
    _adjust(issue, params, -worklog.time_spent_seconds, verb="DELETE")
    issue.worklogs.remove(worklog)
    site.worklog_index.pop(worklog.id, None)
    site.deleted_worklogs.append((worklog.id, site.now_ms()))
    _note(site, issue, actor, before, worklog.id)
    site.emit(
        "worklog_deleted",
        payloads.worklog_event(site, "worklog_deleted", worklog),
        issue=issue,
        meta={"notifyUsers": params.get("notifyUsers", "true") != "false"},
    )
