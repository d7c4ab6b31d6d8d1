"""REST API of time records and their sync to Jira worklogs.

``/api/time-records`` (CRUD, import, suggestions, conflicts), ``/api/jira/issues/...`` (the
issue picker), ``/api/jira/sync/...`` (one record, bulk runs with progress by polling or
server-sent events, the plan, history, retry) and ``DELETE /api/jira/worklog/{id}``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from jirabridge.errors import ApiNotFoundError, NotFoundError, ValidationError
from jirabridge.jira.jql import jql_string
from jirabridge.jira.models import Issue
from jirabridge.service.worklogs import (
    RecordInput,
    RecordPatch,
    WorklogService,
    install_worklog_jobs,
    record_suggestions,
    suggest_issue_keys,
)
from jirabridge.store.time_records import RecordFilter
from jirabridge.sync.worklogs import jobs as worklog_jobs
from jirabridge.sync.worklogs.planner import SyncPlan
from jirabridge.web.auth import AccountsDep, Caller, reader_id, require_api_caller, writer_id
from jirabridge.web.deps import get_runtime

__all__ = ["get_worklog_service", "router"]

router = APIRouter(prefix="/api", tags=["worklogs"])

CallerDep = Annotated[Caller, Depends(require_api_caller)]
_PROGRESS_POLL_SEC = 0.5


def get_worklog_service(request: Request, accounts: AccountsDep) -> WorklogService:
    """The app's :class:`WorklogService` (built on first use from the runtime)."""
    service: WorklogService | None = getattr(request.app.state, "worklogs", None)
    if service is None:
        runtime = get_runtime(request)
        service = WorklogService.from_settings(
            runtime.settings, runtime.sessions, accounts.clients, jobs=runtime.jobs
        )
        request.app.state.worklogs = service
        # Bulk runs started here use the same clients (and, in tests, the same transport).
        install_worklog_jobs(runtime.sessions, lambda: service)
    return service


ServiceDep = Annotated[WorklogService, Depends(get_worklog_service)]


# -- time records ---------------------------------------------------------------------------


@router.get("/time-records")
async def list_records(
    caller: CallerDep,
    service: ServiceDep,
    since: datetime | None = None,
    until: datetime | None = None,
    status: str | None = None,
    issue_key: str | None = None,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> dict[str, Any]:
    """The caller's records, newest first, with filters and offset pagination."""
    items, total = await service.list_records(
        reader_id(caller),
        RecordFilter(since=since, until=until, sync_state=status, issue_key=issue_key),
        offset=offset,
        limit=limit,
    )
    return {"items": items, "total": total, "offset": offset, "limit": limit}


@router.post("/time-records", status_code=201)
async def create_record(
    caller: CallerDep, service: ServiceDep, body: RecordInput
) -> dict[str, Any]:
    """Add a record (its duration is rounded once, now)."""
    return await service.create_record(writer_id(caller), body)


@router.get("/time-records/{record_id}")
async def get_record(caller: CallerDep, service: ServiceDep, record_id: str) -> dict[str, Any]:
    """One record."""
    return await service.get_record(reader_id(caller), record_id)


@router.patch("/time-records/{record_id}")
async def update_record(
    caller: CallerDep, service: ServiceDep, record_id: str, body: RecordPatch
) -> dict[str, Any]:
    """Change a record (``issue_key: null`` unlinks; the next sync deletes the worklog)."""
    return await service.update_record(writer_id(caller), record_id, body)


@router.delete("/time-records/{record_id}")
async def delete_record(caller: CallerDep, service: ServiceDep, record_id: str) -> dict[str, Any]:
    """Delete a record; its worklog is deleted at the next sync."""
    return await service.delete_record(writer_id(caller), record_id)


class ImportBody(BaseModel):
    """A JSON import: a list of records in the create form (``duration_minutes`` allowed)."""

    model_config = ConfigDict(extra="forbid")

    records: list[dict[str, Any]] = Field(max_length=5000)


@router.post("/time-records/import")
async def import_records(
    caller: CallerDep, service: ServiceDep, request: Request
) -> dict[str, Any]:
    """Import CSV (``text/csv``) or JSON (``{"records": [...]}``); a per-row error report."""
    user_id = writer_id(caller)
    content_type = request.headers.get("content-type", "")
    raw = await request.body()
    if content_type.startswith("text/csv"):
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise ValidationError(
                f"the CSV must be UTF-8 (byte {exc.start} is not): save it as UTF-8 and retry"
            ) from None
        report = await service.import_csv(user_id, text)
    else:
        try:
            body = ImportBody.model_validate(json.loads(raw or b"{}"))
        except ValueError as exc:
            raise ValidationError(f"send text/csv or JSON {{'records': [...]}}: {exc}") from None
        report = await service.import_rows(user_id, body.records)
    return report.as_dict()


@router.get("/time-records/{record_id}/suggestions")
async def suggestions(caller: CallerDep, service: ServiceDep, record_id: str) -> dict[str, Any]:
    """Issue keys found in the record's notes and link, limited to the connection's projects."""
    user_id = reader_id(caller)
    record = await service.get_record(user_id, record_id)
    async with service.jira(user_id, record["connection_id"]) as jira:
        projects = [p.key for p in await jira.projects() if p.key]
    return {"record_id": record_id, "keys": record_suggestions(record, projects)}


class AcceptBody(BaseModel):
    """Accept suggested keys: ``{record_id: issue_key}``."""

    model_config = ConfigDict(extra="forbid")

    links: dict[str, str] = Field(min_length=1, max_length=5000)


@router.post("/time-records/suggestions/accept")
async def accept_suggestions(
    caller: CallerDep, service: ServiceDep, body: AcceptBody
) -> dict[str, Any]:
    """Link records to the keys the user accepted (one or many)."""
    user_id = writer_id(caller)
    updated = [
        await service.update_record(user_id, record_id, RecordPatch(issue_key=key))
        for record_id, key in body.links.items()
    ]
    return {"updated": len(updated), "items": updated}


@router.post("/time-records/{record_id}/resolve")
async def resolve_conflict(
    caller: CallerDep,
    service: ServiceDep,
    record_id: str,
    keep: Annotated[str, Body(embed=True)],
) -> dict[str, Any]:
    """Resolve a conflict keeping ``local`` (Jira is updated next sync) or ``jira``."""
    return await service.resolve_conflict(writer_id(caller), record_id, keep)


class JiraImportBody(BaseModel):
    """Import the caller's own Jira worklogs changed since ``since``."""

    model_config = ConfigDict(extra="forbid")

    since: datetime
    connection_id: str | None = None


@router.post("/jira/worklogs/import")
async def import_jira_worklogs(
    caller: CallerDep, service: ServiceDep, body: JiraImportBody
) -> dict[str, Any]:
    """Make time records of the caller's own worklogs in Jira (skips ours and known ones)."""
    ids = await service.import_jira_worklogs(writer_id(caller), body.since, body.connection_id)
    return {"created": len(ids), "ids": ids}


# -- the issue picker -----------------------------------------------------------------------


def _issue_dict(issue: Issue) -> dict[str, Any]:
    status = issue.status
    kind = issue.issue_type
    return {
        "key": issue.key,
        "summary": issue.summary,
        "status": status.name if status else None,
        "status_category": (
            status.status_category.key if status and status.status_category else None
        ),
        "type": kind.name if kind else None,
    }


_PICKER_FIELDS = ("summary", "status", "issuetype", "updated")


async def _search(
    service: WorklogService, user_id: str, connection_id: str | None, jql: str, limit: int
) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    async with service.jira(user_id, connection_id) as jira:
        async for issue in jira.search(jql, fields=_PICKER_FIELDS, page_size=limit):
            out.append(_issue_dict(issue))
            if len(out) >= limit:
                break
    return out


@router.get("/jira/issues/search")
async def search_issues(
    caller: CallerDep,
    service: ServiceDep,
    q: Annotated[str, Query(min_length=1, max_length=200)],
    connection_id: str | None = None,
    limit: Annotated[int, Query(ge=1, le=50)] = 20,
) -> dict[str, Any]:
    """Search-as-you-type by key or text; recently updated issues first."""
    user_id = reader_id(caller)
    text = q.strip()
    items: list[dict[str, Any]] = []
    if suggest_issue_keys(text.upper(), [text.upper().split("-")[0]]) == [text.upper()]:
        async with service.jira(user_id, connection_id) as jira:
            with contextlib.suppress(ApiNotFoundError):
                items.append(_issue_dict(await jira.get_issue(text.upper(), fields=_PICKER_FIELDS)))
    jql = f"text ~ {jql_string(text + '*')} ORDER BY updated DESC"
    for found in await _search(service, user_id, connection_id, jql, limit):
        if all(found["key"] != i["key"] for i in items):
            items.append(found)
    return {"items": items[:limit]}


@router.get("/jira/issues/assigned")
async def assigned_issues(
    caller: CallerDep,
    service: ServiceDep,
    connection_id: str | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
) -> dict[str, Any]:
    """Unresolved issues assigned to the connection's user, recently updated first."""
    jql = "assignee = currentUser() AND statusCategory != Done ORDER BY updated DESC"
    return {"items": await _search(service, reader_id(caller), connection_id, jql, limit)}


@router.get("/jira/issues/{key}")
async def get_issue(
    caller: CallerDep, service: ServiceDep, key: str, connection_id: str | None = None
) -> dict[str, Any]:
    """One issue for the picker."""
    async with service.jira(reader_id(caller), connection_id) as jira:
        try:
            return _issue_dict(await jira.get_issue(key, fields=_PICKER_FIELDS))
        except ApiNotFoundError:
            raise NotFoundError(f"no issue {key} (or no permission to see it)") from None


# -- sync ------------------------------------------------------------------------------------


def _plan_dict(plan: SyncPlan) -> dict[str, Any]:
    return {
        "actions": [
            {
                "record_id": a.record_id,
                "kind": a.kind.value,
                "reason": a.reason,
                "issue_key": a.issue_key,
                "worklog_id": a.worklog_id,
                "started": a.started.isoformat() if a.started else None,
                "seconds": a.seconds,
            }
            for a in plan.actions
        ],
        "counts": plan.counts(),
        "text": plan.render(),
    }


class RecordsBody(BaseModel):
    """A selection of records, optionally through a given connection."""

    model_config = ConfigDict(extra="forbid")

    record_ids: list[str] = Field(min_length=1, max_length=5000)
    connection_id: str | None = None


@router.post("/jira/sync/plan")
async def plan_sync(caller: CallerDep, service: ServiceDep, body: RecordsBody) -> dict[str, Any]:
    """The plan a sync of the records would carry out, without writing anything."""
    plan = await service.plan(reader_id(caller), body.record_ids, body.connection_id)
    return _plan_dict(plan)


@router.post("/jira/sync/record/{record_id}")
async def sync_record(caller: CallerDep, service: ServiceDep, record_id: str) -> dict[str, Any]:
    """Sync one record now."""
    outcome = await service.sync_one(writer_id(caller), record_id)
    record = await service.get_record(caller.user.id, record_id)
    return {
        "ok": outcome.ok,
        "action": outcome.kind.value,
        "worklog_id": outcome.worklog_id,
        "error": outcome.error,
        "record": record,
    }


@router.delete("/jira/worklog/{record_id}")
async def delete_worklog(caller: CallerDep, service: ServiceDep, record_id: str) -> dict[str, Any]:
    """Delete the record's worklog in Jira now (the record stays, unlinked)."""
    user_id = writer_id(caller)
    await service.update_record(user_id, record_id, RecordPatch(issue_key=None))
    outcome = await service.sync_one(user_id, record_id)
    return {"ok": outcome.ok, "worklog_id": outcome.worklog_id, "error": outcome.error}


@router.post("/jira/sync/bulk", status_code=202)
async def sync_bulk(caller: CallerDep, service: ServiceDep, body: RecordsBody) -> dict[str, Any]:
    """Start a durable bulk sync; poll ``/jira/sync/runs/{id}`` or stream its ``/events``."""
    run_id = await service.start_bulk(writer_id(caller), body.record_ids, body.connection_id)
    return {"run_id": run_id}


async def _own_run(service: WorklogService, caller: Caller, run_id: str) -> dict[str, Any]:
    progress = await worklog_jobs.run_progress(service.sessions, run_id)
    if progress.get("owner_user_id") not in (None, caller.user.id):
        raise NotFoundError("no such sync run")
    progress.pop("owner_user_id", None)
    return dict(progress)


@router.get("/jira/sync/runs/{run_id}")
async def run_status(caller: CallerDep, service: ServiceDep, run_id: str) -> dict[str, Any]:
    """Progress of a run: ``{status, total, done, succeeded, failed, errors[]}``."""
    reader_id(caller)
    return await _own_run(service, caller, run_id)


@router.get("/jira/sync/runs/{run_id}/events")
async def run_events(caller: CallerDep, service: ServiceDep, run_id: str) -> StreamingResponse:
    """Server-sent events: a ``progress`` event on every change, ``done`` at the end."""
    reader_id(caller)
    first = await _own_run(service, caller, run_id)

    async def stream() -> AsyncIterator[str]:
        last: dict[str, Any] | None = None
        current = first
        while True:
            if current != last:
                event = "done" if current["status"] == "finished" else "progress"
                yield f"event: {event}\ndata: {json.dumps(current)}\n\n"
                last = current
                if event == "done":
                    return
            await asyncio.sleep(_PROGRESS_POLL_SEC)
            current = await _own_run(service, caller, run_id)

    return StreamingResponse(
        stream(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"}
    )


@router.get("/jira/sync/history")
async def history(
    caller: CallerDep,
    service: ServiceDep,
    record_id: str | None = None,
    status: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> dict[str, Any]:
    """Every sync attempt on the caller's records, newest first."""
    items = await service.history(
        reader_id(caller), record_id=record_id, status=status, since=since, until=until
    )
    return {"items": items}


@router.post("/jira/sync/retry/{record_id}")
async def retry_one(caller: CallerDep, service: ServiceDep, record_id: str) -> dict[str, Any]:
    """Retry one record now."""
    return await sync_record(caller, service, record_id)


@router.post("/jira/sync/retry-failed", status_code=202)
async def retry_failed(caller: CallerDep, service: ServiceDep) -> dict[str, Any]:
    """Retry every failed record of the caller as one bulk run."""
    user_id = writer_id(caller)
    failed = await service.failed_record_ids(user_id)
    if not failed:
        return {"run_id": None, "total": 0}
    return {"run_id": await service.start_bulk(user_id, failed), "total": len(failed)}
