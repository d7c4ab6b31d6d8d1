"""Pages of time records: the list with bulk sync, the form with the issue picker, a record
with its sync history, and the history page with filters and retry.

The pages render from the service; their buttons call the REST API (``/api/...``) from
``static/worklogs.js`` with the session's CSRF token, so the browser and API clients share one
code path for every change.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from jirabridge.errors import ValidationError
from jirabridge.service.worklogs import WorklogService
from jirabridge.store.accounts import ConnectionRepository
from jirabridge.store.db import read_transaction
from jirabridge.store.time_records import RecordFilter
from jirabridge.web.auth import Caller, login_redirect, optional_caller
from jirabridge.web.routes.worklogs_api import get_worklog_service
from jirabridge.web.ui import add_nav_item, render

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
add_nav_item("Time", "/time", order=30)
add_nav_item("Sync history", "/time/history", order=31)

OptionalCaller = Annotated[Caller | None, Depends(optional_caller)]
ServiceDep = Annotated[WorklogService, Depends(get_worklog_service)]

STATE_ICONS = {
    "not-synced": "○",
    "pending": "◔",
    "synced": "✓",
    "error": "✕",
    "conflict": "⚠",
}


async def _jira_urls(service: WorklogService, user_id: str) -> dict[str | None, str]:
    async with read_transaction(service.sessions) as session:
        rows = await ConnectionRepository(session, user_id).list()
    urls: dict[str | None, str] = {r.id: r.base_url.rstrip("/") for r in rows}
    if rows:
        urls[None] = rows[0].base_url.rstrip("/")
    return urls


def _page(request: Request, template: str, caller: Caller, context: dict[str, Any]) -> Response:
    return render(
        request,
        template,
        {
            "caller": caller,
            "indicator": {"count": 1, "needs_reconnect": False},
            "icons": STATE_ICONS,
            **context,
        },
    )


def _date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise ValidationError(f"{value!r} is not a date (YYYY-MM-DD)") from None


@router.get("/time", response_class=HTMLResponse)
async def records_page(
    request: Request,
    caller: OptionalCaller,
    service: ServiceDep,
    status: str | None = None,
    page: int = 1,
) -> Response:
    """The records, newest first, with bulk selection, "Sync selected" and the suggested
    issue keys of unlinked records, accepted several at once."""
    if caller is None:
        return login_redirect(request)
    size = 50
    items, total = await service.list_records(
        caller.user.id,
        RecordFilter(sync_state=status or None),
        offset=(max(page, 1) - 1) * size,
        limit=size,
    )
    return _page(
        request,
        "worklogs/records.html",
        caller,
        {
            "records": items,
            "total": total,
            "page": max(page, 1),
            "pages": max(1, -(-total // size)),
            "status": status or "",
            "jira": await _jira_urls(service, caller.user.id),
            "suggestions": await service.suggestions(caller.user.id, items),
        },
    )


@router.get("/time/new", response_class=HTMLResponse)
async def new_record_page(request: Request, caller: OptionalCaller) -> Response:
    """The form, with the issue picker."""
    if caller is None:
        return login_redirect(request)
    return _page(request, "worklogs/form.html", caller, {})


@router.get("/time/history", response_class=HTMLResponse)
async def history_page(
    request: Request,
    caller: OptionalCaller,
    service: ServiceDep,
    status: str | None = None,
    record_id: str | None = None,
    since: str | None = None,
    until: str | None = None,
) -> Response:
    """Every sync attempt, with filters; failed ones can be retried."""
    if caller is None:
        return login_redirect(request)
    attempts = await service.history(
        caller.user.id,
        record_id=record_id or None,
        status=status or None,
        since=_date(since),
        until=_date(until),
    )
    return _page(
        request,
        "worklogs/history.html",
        caller,
        {
            "attempts": attempts,
            "filters": {
                "status": status or "",
                "record_id": record_id or "",
                "since": since or "",
                "until": until or "",
            },
        },
    )


@router.get("/time/{record_id}", response_class=HTMLResponse)
async def record_page(
    request: Request, caller: OptionalCaller, service: ServiceDep, record_id: str
) -> Response:
    """One record: details, sync button, its sync history."""
    if caller is None:
        return login_redirect(request)
    record = await service.get_record(caller.user.id, record_id)
    attempts = await service.history(caller.user.id, record_id=record_id)
    return _page(
        request,
        "worklogs/record.html",
        caller,
        {
            "record": record,
            "attempts": attempts,
            "jira": await _jira_urls(service, caller.user.id),
        },
    )
