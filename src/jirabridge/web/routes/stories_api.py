"""REST API of the stories export (contract: docs/stories-export-api.md).

Profiles (CRUD), Jira metadata for the profile editor, preview (a plan and its ``plan_id``),
export start (a durable job; 202 with its id), history, progress by polling or server-sent
events, rollback (dry-run or apply) and a manual status refresh. The caller's own (and their
teams') profiles, exports and connections only: anything else is a 404.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import StreamingResponse

from jirabridge.service.stories import (
    ExportRequest,
    ProfileInput,
    RollbackRequest,
    StoriesService,
    install_story_jobs,
)
from jirabridge.web.auth import AccountsDep, Caller, reader_id, require_api_caller, writer_id
from jirabridge.web.deps import get_runtime

__all__ = ["get_stories_service", "router"]

router = APIRouter(prefix="/api/stories", tags=["stories"])

CallerDep = Annotated[Caller, Depends(require_api_caller)]
#: How often the event stream looks for new item results.
EVENTS_POLL_SEC = 0.25


def get_stories_service(request: Request, accounts: AccountsDep) -> StoriesService:
    """The app's :class:`StoriesService` (built on first use from the runtime)."""
    service: StoriesService | None = getattr(request.app.state, "stories", None)
    if service is None:
        runtime = get_runtime(request)
        service = StoriesService(runtime.sessions, accounts.clients, jobs=runtime.jobs)
        request.app.state.stories = service
        # Exports started here use the same clients (and, in tests, the same transport).
        install_story_jobs(runtime.sessions, lambda: service)
    return service


ServiceDep = Annotated[StoriesService, Depends(get_stories_service)]


# -- profiles -------------------------------------------------------------------------------


@router.get("/profiles")
async def list_profiles(caller: CallerDep, service: ServiceDep) -> dict[str, Any]:
    """The caller's export profiles."""
    return {"items": await service.list_profiles(reader_id(caller))}


@router.post("/profiles", status_code=201)
async def create_profile(
    caller: CallerDep, service: ServiceDep, body: ProfileInput
) -> dict[str, Any]:
    """Save a profile (409 when the name is taken)."""
    return await service.create_profile(writer_id(caller), body)


@router.get("/profiles/{profile_id}")
async def get_profile(caller: CallerDep, service: ServiceDep, profile_id: str) -> dict[str, Any]:
    """One profile."""
    return await service.get_profile(reader_id(caller), profile_id)


@router.put("/profiles/{profile_id}")
async def update_profile(
    caller: CallerDep, service: ServiceDep, profile_id: str, body: ProfileInput
) -> dict[str, Any]:
    """Replace a profile; its ``version`` grows (previews made before no longer export)."""
    return await service.update_profile(writer_id(caller), profile_id, body)


@router.delete("/profiles/{profile_id}", status_code=204)
async def delete_profile(caller: CallerDep, service: ServiceDep, profile_id: str) -> Response:
    """Delete a profile (its exports keep their copy of it)."""
    await service.delete_profile(writer_id(caller), profile_id)
    return Response(status_code=204)


# -- Jira metadata for the editor -----------------------------------------------------------


@router.get("/connections/{connection_id}/projects")
async def projects(
    caller: CallerDep, service: ServiceDep, connection_id: str, refresh: bool = False
) -> dict[str, Any]:
    """Projects the connection can see (cached a few minutes; ``refresh=true`` asks again)."""
    items = await service.projects(reader_id(caller), connection_id, refresh=refresh)
    return {"items": items}


@router.get("/connections/{connection_id}/projects/{project}/mapping")
async def mapping_options(
    caller: CallerDep, service: ServiceDep, connection_id: str, project: str, refresh: bool = False
) -> dict[str, Any]:
    """Issue types per level, fields per type (required ones flagged), and the site's story
    points / epic link / epic name fields, from createmeta."""
    return await service.mapping_options(reader_id(caller), connection_id, project, refresh=refresh)


# -- preview and export ---------------------------------------------------------------------


@router.post("/preview")
async def preview(caller: CallerDep, service: ServiceDep, body: ExportRequest) -> dict[str, Any]:
    """The plan of the export and its ``plan_id``: nothing is written."""
    return (await service.preview(reader_id(caller), body)).as_dict()


@router.post("/exports", status_code=202)
async def start_export(
    caller: CallerDep, service: ServiceDep, body: ExportRequest
) -> dict[str, Any]:
    """Export exactly the previewed plan (``plan_id``): 409 if anything changed since, 422 if
    the plan has problems; else the export is queued and its id returned."""
    export_id = await service.start_export(writer_id(caller), body)
    return {"export_id": export_id, "status": "queued"}


@router.get("/exports")
async def list_exports(
    caller: CallerDep,
    service: ServiceDep,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> dict[str, Any]:
    """Export history, newest first."""
    items, total = await service.list_exports(reader_id(caller), offset=offset, limit=limit)
    return {"items": items, "total": total, "offset": offset, "limit": limit}


@router.get("/exports/{export_id}")
async def get_export(caller: CallerDep, service: ServiceDep, export_id: str) -> dict[str, Any]:
    """One export: status, counts, and every item with its outcome and Jira link."""
    return await service.get_export(reader_id(caller), export_id)


@router.get("/exports/{export_id}/events")
async def export_events(
    caller: CallerDep, service: ServiceDep, export_id: str
) -> StreamingResponse:
    """Server-sent events: ``item`` per item result, ``progress`` with the counts after each
    change, ``done`` with the summary when the export has finished or failed."""
    user_id = reader_id(caller)
    first = await service.get_export(user_id, export_id)

    async def stream() -> AsyncIterator[str]:
        seen: dict[str, tuple[Any, ...]] = {}
        current = first
        last_counts: dict[str, Any] | None = None
        while True:
            for item in current["items"]:
                state = (item["outcome"], item["key"], item["error"])
                if item["outcome"] != "pending" and seen.get(item["item"]) != state:
                    seen[item["item"]] = state
                    yield f"event: item\ndata: {json.dumps(item)}\n\n"
            summary = {k: v for k, v in current.items() if k != "items"}
            finished = current["status"] in ("finished", "failed")
            if finished:
                yield f"event: done\ndata: {json.dumps(summary)}\n\n"
                return
            if summary != last_counts:
                yield f"event: progress\ndata: {json.dumps(summary)}\n\n"
                last_counts = summary
            await asyncio.sleep(EVENTS_POLL_SEC)
            current = await service.get_export(user_id, export_id)

    return StreamingResponse(
        stream(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"}
    )


@router.post("/exports/{export_id}/rollback")
async def rollback(
    caller: CallerDep, service: ServiceDep, export_id: str, body: RollbackRequest
) -> dict[str, Any]:
    """Plan (``dry_run: true``, the default) or apply the rollback of what the export
    created; items edited in Jira since are refused unless ``force``."""
    user_id = reader_id(caller) if body.dry_run else writer_id(caller)
    return await service.rollback(user_id, export_id, body)


@router.post("/exports/{export_id}/refresh-status")
async def refresh_status(caller: CallerDep, service: ServiceDep, export_id: str) -> dict[str, Any]:
    """Read each exported issue's current Jira status now; the export with its items."""
    return await service.refresh_status(writer_id(caller), export_id)
