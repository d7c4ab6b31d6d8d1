"""REST API of sprint reports: a connection's boards, a board's report as JSON or CSV.

Read-only; needs the ``read`` scope. Connections are looked up scoped to the caller, so
another user's connection answers 404.
"""

from __future__ import annotations

import re
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from jirabridge.errors import ValidationError
from jirabridge.service.api_keys import ApiKeyScope
from jirabridge.service.reports import ReportService
from jirabridge.sync.reports.board import BoardReport
from jirabridge.sync.reports.formats import issues_csv, report_json, sprints_csv
from jirabridge.web.auth import AccountsDep, Caller, require_api_caller

__all__ = ["ReportQuery", "get_report_service", "router"]

router = APIRouter(prefix="/api/reports", tags=["reports"])

CallerDep = Annotated[Caller, Depends(require_api_caller)]
_FIELD_ID = re.compile(r"^(customfield_\d{1,18}|[A-Za-z][A-Za-z0-9_]{0,63})$")


def get_report_service(request: Request, ctx: AccountsDep) -> ReportService:
    """The report service of this app (built on first use, cache in the database)."""
    service: ReportService | None = getattr(request.app.state, "reports", None)
    if service is None:
        service = ReportService.with_database_cache(ctx.connections, ctx.clients, ctx.sessions)
        request.app.state.reports = service
    return service


ReportServiceDep = Annotated[ReportService, Depends(get_report_service)]


class ReportQuery:
    """The query parameters every report endpoint takes, validated."""

    def __init__(
        self,
        sprint: Annotated[list[int] | None, Query(description="Sprint ids (repeatable).")] = None,
        last: Annotated[int | None, Query(ge=1, le=100, description="The last N sprints.")] = None,
        tz: Annotated[str, Query(max_length=64, description="IANA zone of burndown days.")] = (
            "UTC"
        ),
        points_field: Annotated[
            str | None, Query(max_length=64, description="Story points field id.")
        ] = None,
    ) -> None:
        if sprint and last:
            raise ValidationError("give sprint or last, not both")
        try:
            self.zone = ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValidationError(
                f"unknown time zone {tz!r} (use an IANA name like Europe/Paris)"
            ) from None
        if points_field is not None and not _FIELD_ID.match(points_field):
            raise ValidationError("points_field must be a field id like customfield_10016")
        self.sprint = sprint or None
        self.last = last
        self.points_field = points_field

    async def run(
        self, service: ReportService, caller: Caller, connection_id: str, board_id: int
    ) -> BoardReport:
        """The report these parameters ask for."""
        return await service.board_report(
            caller.user.id,
            connection_id,
            board_id,
            sprint_ids=self.sprint,
            last=self.last,
            zone=self.zone,
            points_field=self.points_field,
        )


QueryDep = Annotated[ReportQuery, Depends()]


@router.get("/connections/{connection_id}/boards")
async def list_boards(
    connection_id: str, caller: CallerDep, service: ReportServiceDep
) -> list[dict[str, Any]]:
    """The boards the connection's Jira user can see."""
    caller.require(ApiKeyScope.READ)
    boards = await service.boards(caller.user.id, connection_id)
    return [{"id": b.id, "name": b.name, "type": b.type} for b in boards]


@router.get("/connections/{connection_id}/boards/{board_id}")
async def board_report_json(
    connection_id: str,
    board_id: int,
    query: QueryDep,
    caller: CallerDep,
    service: ReportServiceDep,
) -> dict[str, Any]:
    """The board report: per-sprint lists and points, burndown, velocity, cycle time."""
    caller.require(ApiKeyScope.READ)
    return report_json(await query.run(service, caller, connection_id, board_id))


@router.get("/connections/{connection_id}/boards/{board_id}/csv")
async def board_report_csv(
    connection_id: str,
    board_id: int,
    query: QueryDep,
    caller: CallerDep,
    service: ReportServiceDep,
    issues: Annotated[bool, Query(description="One row per issue instead of per sprint.")] = False,
) -> Response:
    """The board report as CSV (a download)."""
    caller.require(ApiKeyScope.READ)
    report = await query.run(service, caller, connection_id, board_id)
    body = issues_csv(report) if issues else sprints_csv(report)
    name = f"board-{board_id}-{'issues' if issues else 'sprints'}.csv"
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
