"""Report pages: pick a connection and a board, then see its sprints as charts and tables."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.requests import Request
from fastapi.responses import Response

from jirabridge.errors import JirabridgeError
from jirabridge.sync.reports.board import BoardReport
from jirabridge.web.auth import AccountsDep, Caller, login_redirect, optional_caller
from jirabridge.web.charts import Series, bar_chart, histogram_chart, line_chart
from jirabridge.web.routes.reports_api import QueryDep, ReportServiceDep
from jirabridge.web.ui import add_nav_item, render

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
add_nav_item("Reports", "/reports", order=40)

OptionalCaller = Annotated[Caller | None, Depends(optional_caller)]


@router.get("/reports")
async def reports_home(request: Request, caller: OptionalCaller, ctx: AccountsDep) -> Response:
    """Your connections, each leading to its boards."""
    if caller is None:
        return login_redirect(request)
    connections = [c for c in await ctx.connections.list(caller.user.id) if c.is_active]
    return render(request, "reports/index.html", {"caller": caller, "connections": connections})


@router.get("/reports/{connection_id}")
async def connection_boards(
    request: Request,
    connection_id: str,
    caller: OptionalCaller,
    ctx: AccountsDep,
    service: ReportServiceDep,
) -> Response:
    """The boards of one connection."""
    if caller is None:
        return login_redirect(request)
    connection = await ctx.connections.get(caller.user.id, connection_id)
    boards = await service.boards(caller.user.id, connection_id)
    return render(
        request,
        "reports/boards.html",
        {"caller": caller, "connection": connection, "boards": boards},
    )


@router.get("/reports/{connection_id}/boards/{board_id}")
async def board_page(
    request: Request,
    connection_id: str,
    board_id: int,
    caller: OptionalCaller,
    ctx: AccountsDep,
    service: ReportServiceDep,
    query: QueryDep,
) -> Response:
    """A board's sprint report: velocity, burndown and burnup per sprint, cycle time."""
    if caller is None:
        return login_redirect(request)
    connection = await ctx.connections.get(caller.user.id, connection_id)
    error: str | None = None
    report: BoardReport | None = None
    try:
        report = await query.run(service, caller, connection_id, board_id)
    except JirabridgeError as exc:
        if exc.http_status == 404:
            raise
        error = exc.message
    context: dict[str, Any] = {
        "caller": caller,
        "connection": connection,
        "board_id": board_id,
        "report": report,
        "error": error,
        "query": request.url.query,
        "api_base": f"/api/reports/connections/{connection_id}/boards/{board_id}",
    }
    if report is not None:
        context.update(_charts(report))
    return render(request, "reports/board.html", context)


def _charts(report: BoardReport) -> dict[str, Any]:
    names = [e.name for e in report.velocity.entries]
    velocity = bar_chart(
        "Velocity: committed vs completed points",
        names,
        [
            Series("Committed", [e.committed_points for e in report.velocity.entries]),
            Series("Completed", [e.completed_points for e in report.velocity.entries]),
        ],
    )
    sprints = []
    for r in report.sprints:
        labels = ["start"] + [p.label[5:] for p in r.burndown[1:]]
        burndown = line_chart(
            f"{r.sprint.name}: burndown (remaining points)",
            labels,
            [
                Series("Remaining", [p.remaining_points for p in r.burndown]),
                Series("Ideal", [p.ideal_points for p in r.burndown], dashed=True),
            ],
        )
        burnup = line_chart(
            f"{r.sprint.name}: burnup (scope and completed points)",
            labels,
            [
                Series("Scope", [p.scope_points for p in r.burndown]),
                Series("Completed", [p.completed_points for p in r.burndown]),
            ],
        )
        sprints.append({"report": r, "burndown": burndown, "burnup": burnup})
    cycle = histogram_chart("Cycle time (days, in progress -> done)", report.cycle_time.histogram)
    return {"velocity_chart": velocity, "sprint_charts": sprints, "cycle_chart": cycle}
