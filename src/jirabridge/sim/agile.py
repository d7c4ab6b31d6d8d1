"""Agile 1.0 routes: boards, sprints (create/update/start/close), sprint issues, backlog, epics."""

from __future__ import annotations

from typing import Any

from jirabridge.sim import issues as ops
from jirabridge.sim import payloads
from jirabridge.sim.errors import SimHTTPError
from jirabridge.sim.formats import parse_jira_datetime
from jirabridge.sim.model import Board, Issue, Sprint
from jirabridge.sim.routes_issues import _expand
from jirabridge.sim.search import run_jql
from jirabridge.sim.state import SimSite
from jirabridge.sim.web import Ctx

__all__ = ["ROUTES", "create_sprint", "move_to_sprint", "set_sprint_state"]

_SPRINT_STATES = ("future", "active", "closed")


def _page(ctx: Ctx, items: list[Any], default: int = 50) -> tuple[int, int, list[Any]]:
    start = ctx.int_param("startAt", 0)
    size = min(ctx.int_param("maxResults", default, minimum=1), 1000 if default > 50 else 50)
    return start, size, items[start : start + size]


def _board(ctx: Ctx) -> Board:
    raw = ctx.path["boardId"]
    board = ctx.site.boards.get(int(raw)) if raw.isdigit() else None
    if board is None:
        raise SimHTTPError(
            404, [f"Board does not exist or you do not have permission to see it. ({raw})"]
        )
    return board


def _sprint(ctx: Ctx) -> Sprint:
    raw = ctx.path["sprintId"]
    sprint = ctx.site.sprints.get(int(raw)) if raw.isdigit() else None
    if sprint is None:
        raise SimHTTPError(
            404, [f"Sprint with id {raw} does not exist or you do not have permission to see it."]
        )
    return sprint


def _issue_page(ctx: Ctx, issues: list[Issue]) -> Any:
    jql = ctx.params.get("jql")
    if jql:
        allowed = {i.id for i in run_jql(ctx.site, jql, ctx.user, consistent=True)}
        issues = [i for i in issues if i.id in allowed]
    start, size, page = _page(ctx, issues)
    fields = ctx.multi("fields") or None
    r = ctx.r
    return {
        "expand": "schema,names",
        "startAt": start,
        "maxResults": size,
        "total": len(issues),
        "issues": [r.issue(i, fields=fields, expand=_expand(ctx)) for i in page],
    }


def list_boards(ctx: Ctx) -> Any:
    boards = list(ctx.site.boards.values())
    key = ctx.params.get("projectKeyOrId")
    if key:
        project = ctx.site.project_by_ref(key)
        boards = [b for b in boards if b.project_id == project.id]
    start, size, page = _page(ctx, boards)
    return {
        "maxResults": size,
        "startAt": start,
        "total": len(boards),
        "isLast": start + size >= len(boards),
        "values": [ctx.r.board(b) for b in page],
    }


def get_board(ctx: Ctx) -> Any:
    return ctx.r.board(_board(ctx))


def board_sprints(ctx: Ctx) -> Any:
    board = _board(ctx)
    states = {s.strip() for s in ctx.params.get("state", "").split(",") if s.strip()}
    sprints = [
        s
        for s in ctx.site.sprints.values()
        if s.board_id == board.id and (not states or s.state in states)
    ]
    start, size, page = _page(ctx, sprints)
    return {
        "maxResults": size,
        "startAt": start,
        "isLast": start + size >= len(sprints),
        "values": [ctx.r.sprint(s) for s in page],
    }


def _board_issues(site: SimSite, board: Board) -> list[Issue]:
    return sorted(
        (i for i in site.issues.values() if i.project_id == board.project_id), key=lambda i: i.rank
    )


def board_issues(ctx: Ctx) -> Any:
    return _issue_page(ctx, _board_issues(ctx.site, _board(ctx)))


def board_backlog(ctx: Ctx) -> Any:
    site = ctx.site
    issues = [
        i
        for i in _board_issues(site, _board(ctx))
        if not any(site.sprints[s].state != "closed" for s in i.sprint_ids if s in site.sprints)
        and site.status(i.status_id).category_key != "done"
        and not site.issue_type(i.issuetype_id).subtask
        and i.issuetype_id != "10000"
    ]
    return _issue_page(ctx, issues)


def board_epics(ctx: Ctx) -> Any:
    board = _board(ctx)
    epics = [i for i in _board_issues(ctx.site, board) if i.issuetype_id == "10000"]
    done = ctx.params.get("done")
    if done is not None:
        want = done.lower() == "true"
        epics = [e for e in epics if (ctx.site.status(e.status_id).category_key == "done") == want]
    start, size, page = _page(ctx, epics)
    return {
        "maxResults": size,
        "startAt": start,
        "isLast": start + size >= len(epics),
        "values": [ctx.r.epic(e) for e in page],
    }


def create_sprint(
    site: SimSite,
    name: str,
    board_id: int,
    *,
    goal: str = "",
    start_ms: int | None = None,
    end_ms: int | None = None,
    created_ms: int | None = None,
) -> Sprint:
    """Create a future sprint on a board and emit ``sprint_created``."""
    sprint = Sprint(
        id=site.next_id("sprint", 1),
        name=name,
        board_id=board_id,
        state="future",
        created_ms=created_ms if created_ms is not None else site.now_ms(),
        start_ms=start_ms,
        end_ms=end_ms,
        goal=goal,
    )
    site.sprints[sprint.id] = sprint
    site.emit("sprint_created", payloads.sprint_event(site, "sprint_created", sprint))
    return sprint


def _date(body: dict[str, Any], key: str) -> int | None:
    if body.get(key) is None:
        return None
    try:
        return parse_jira_datetime(str(body[key]))
    except ValueError:
        raise SimHTTPError(
            400, errors={key: "Invalid date format. Use yyyy-MM-dd'T'HH:mm:ss.SSSZ."}
        ) from None


def post_sprint(ctx: Ctx) -> Any:
    body = ctx.body_dict()
    name = body.get("name")
    board_id = body.get("originBoardId")
    if not isinstance(name, str) or not name.strip():
        raise SimHTTPError(400, errors={"name": "Sprint name is required."})
    if not isinstance(board_id, int) or board_id not in ctx.site.boards:
        raise SimHTTPError(400, errors={"originBoardId": "Board does not exist."})
    sprint = create_sprint(
        ctx.site,
        name,
        board_id,
        goal=body.get("goal") or "",
        start_ms=_date(body, "startDate"),
        end_ms=_date(body, "endDate"),
    )
    return 201, ctx.r.sprint(sprint)


def set_sprint_state(
    site: SimSite, sprint: Sprint, state: str, *, at_ms: int | None = None
) -> None:
    """Start or close a sprint with Jira's rules; closing moves unfinished issues out."""
    now = at_ms if at_ms is not None else site.now_ms()
    if state == sprint.state:
        return
    if state == "active":
        if sprint.state != "future":
            raise SimHTTPError(400, ["Only a future sprint can be started."])
        if any(
            s.state == "active" and s.board_id == sprint.board_id for s in site.sprints.values()
        ):
            raise SimHTTPError(400, ["The board already has an active sprint."])
        if sprint.start_ms is None or sprint.end_ms is None:
            raise SimHTTPError(400, ["A sprint needs a start and an end date to start."])
        sprint.state = "active"
        site.emit("sprint_started", payloads.sprint_event(site, "sprint_started", sprint))
    elif state == "closed":
        if sprint.state != "active":
            raise SimHTTPError(400, ["Only an active sprint can be closed."])
        sprint.state = "closed"
        sprint.complete_ms = now
        site.emit("sprint_closed", payloads.sprint_event(site, "sprint_closed", sprint))
    else:
        raise SimHTTPError(400, errors={"state": f"Invalid sprint state '{state}'."})


def update_sprint(ctx: Ctx) -> Any:
    sprint = _sprint(ctx)
    body = ctx.body_dict()
    partial = ctx.request.method == "POST"
    if "name" in body or not partial:
        name = body.get("name", sprint.name)
        if not isinstance(name, str) or not name.strip():
            raise SimHTTPError(400, errors={"name": "Sprint name is required."})
        sprint.name = name
    if "goal" in body:
        sprint.goal = body.get("goal") or ""
    if "startDate" in body:
        sprint.start_ms = _date(body, "startDate")
    if "endDate" in body:
        sprint.end_ms = _date(body, "endDate")
    state = body.get("state")
    if state is not None:
        if state not in _SPRINT_STATES:
            raise SimHTTPError(400, errors={"state": f"Invalid sprint state '{state}'."})
        set_sprint_state(ctx.site, sprint, state)
    ctx.site.emit("sprint_updated", payloads.sprint_event(ctx.site, "sprint_updated", sprint))
    return ctx.r.sprint(sprint)


def get_sprint(ctx: Ctx) -> Any:
    return ctx.r.sprint(_sprint(ctx))


def delete_sprint(ctx: Ctx) -> Any:
    sprint = _sprint(ctx)
    if sprint.state == "active":
        raise SimHTTPError(400, ["An active sprint cannot be deleted."])
    for issue in ctx.site.issues.values():
        if sprint.id in issue.sprint_ids:
            issue.sprint_ids.remove(sprint.id)
    del ctx.site.sprints[sprint.id]


def sprint_issues(ctx: Ctx) -> Any:
    sprint = _sprint(ctx)
    issues = sorted(
        (i for i in ctx.site.issues.values() if sprint.id in i.sprint_ids), key=lambda i: i.rank
    )
    return _issue_page(ctx, issues)


def move_to_sprint(
    site: SimSite,
    sprint: Sprint | None,
    issues: list[Issue],
    actor: str,
    *,
    at_ms: int | None = None,
) -> None:
    """Put issues in a sprint (None = backlog); records the Sprint changelog item."""
    for issue in issues:
        keep = [
            s for s in issue.sprint_ids if s in site.sprints and site.sprints[s].state == "closed"
        ]
        ids = [*keep, sprint.id] if sprint is not None else keep
        items = ops.change_sprints(site, issue, ids)
        if items:
            ops._commit(site, issue, actor, items, at_ms=at_ms)


def _issues_from_body(ctx: Ctx) -> list[Issue]:
    refs = ctx.body_dict().get("issues")
    if not isinstance(refs, list) or not refs or len(refs) > 50:
        raise SimHTTPError(400, errors={"issues": "Between 1 and 50 issues are required."})
    return [ctx.site.get_issue(str(r)) for r in refs]


def post_sprint_issues(ctx: Ctx) -> Any:
    sprint = _sprint(ctx)
    if sprint.state == "closed":
        raise SimHTTPError(400, ["Issues cannot be moved to a closed sprint."])
    move_to_sprint(ctx.site, sprint, _issues_from_body(ctx), ctx.user)


def post_backlog(ctx: Ctx) -> Any:
    move_to_sprint(ctx.site, None, _issues_from_body(ctx), ctx.user)


def _epic(ctx: Ctx) -> Issue:
    issue = ctx.site.get_issue(ctx.path["epicIdOrKey"])
    if issue.issuetype_id != "10000":
        raise SimHTTPError(404, [f"Issue {issue.key} is not an epic."])
    return issue


def get_epic(ctx: Ctx) -> Any:
    return ctx.r.epic(_epic(ctx))


def epic_issues(ctx: Ctx) -> Any:
    epic = _epic(ctx)
    return _issue_page(ctx, [i for i in ctx.site.issues.values() if i.parent_id == epic.id])


def post_epic_issues(ctx: Ctx) -> Any:
    epic = _epic(ctx)
    for issue in _issues_from_body(ctx):
        field = "parent" if ctx.site.is_cloud else "customfield_10014"
        value: Any = {"key": epic.key} if ctx.site.is_cloud else epic.key
        ops.edit_issue(ctx.site, issue, {"fields": {field: value}}, "2", ctx.user)


def issues_without_epic(ctx: Ctx) -> Any:
    site = ctx.site
    return _issue_page(
        ctx,
        [
            i
            for i in site.issues.values()
            if site.epic_of(i) is None
            and i.issuetype_id != "10000"
            and not site.issue_type(i.issuetype_id).subtask
        ],
    )


_B = "/board/{boardId}"
_S = "/sprint/{sprintId}"
ROUTES: list[tuple[str, str, Any, int]] = [
    ("GET", "/board", list_boards, 200),
    ("GET", _B, get_board, 200),
    ("GET", _B + "/sprint", board_sprints, 200),
    ("GET", _B + "/issue", board_issues, 200),
    ("GET", _B + "/backlog", board_backlog, 200),
    ("GET", _B + "/epic", board_epics, 200),
    ("POST", "/sprint", post_sprint, 201),
    ("GET", _S, get_sprint, 200),
    ("PUT", _S, update_sprint, 200),
    ("POST", _S, update_sprint, 200),
    ("DELETE", _S, delete_sprint, 204),
    ("GET", _S + "/issue", sprint_issues, 200),
    ("POST", _S + "/issue", post_sprint_issues, 204),
    ("POST", "/backlog/issue", post_backlog, 204),
    ("GET", "/epic/none/issue", issues_without_epic, 200),
    ("GET", "/epic/{epicIdOrKey}", get_epic, 200),
    ("GET", "/epic/{epicIdOrKey}/issue", epic_issues, 200),
    ("POST", "/epic/{epicIdOrKey}/issue", post_epic_issues, 204),
]
