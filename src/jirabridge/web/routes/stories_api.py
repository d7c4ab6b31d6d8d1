"""REST API of the stories export: preview a file, export it, on one of your connections.

``POST /api/stories/preview`` returns the plan (every issue with its final fields and how its
description will read, and every problem with its line) without writing anything;
``POST /api/stories/export`` applies exactly that plan and returns per-item results with Jira
links. The caller's connections only (another user's connection is a 404); item ids are
namespaced by the caller and profile name, so two users' ``S1`` never meet.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field
from pydantic import ValidationError as PydanticValidationError

from jirabridge.errors import ValidationError
from jirabridge.service.api_keys import ApiKeyScope
from jirabridge.store.account_models import ConnectionKind, JiraConnectionRow
from jirabridge.store.ledger import WriteLedger
from jirabridge.sync.stories import (
    ExportPlan,
    ExportProfile,
    apply_export,
    parse_stories,
    plan_export,
    prior_state,
)
from jirabridge.sync.stories.parse import detect_format
from jirabridge.web.auth import AccountsDep, ApiCallerDep, Caller

__all__ = ["router"]

router = APIRouter(prefix="/api/stories", tags=["stories"])


class StoriesRequest(BaseModel):
    """A stories file and how to map it."""

    model_config = ConfigDict(extra="forbid")

    connection_id: str
    filename: str = Field(min_length=1, max_length=255, description="Its extension: the format.")
    content: str = Field(max_length=5_000_000)
    profile_name: str = Field(default="default", pattern=r"^[A-Za-z0-9._-]{1,40}$")
    #: The export profile's settings (``project`` at least); ``namespace`` is set by us.
    profile: dict[str, Any]


def _profile(body: StoriesRequest, caller: Caller, row: JiraConnectionRow) -> ExportProfile:
    settings = {k: v for k, v in body.profile.items() if k != "namespace"}
    if "flavor" not in settings:
        dc = row.kind in (ConnectionKind.DC_PAT, ConnectionKind.DC_BASIC)
        settings["flavor"] = "datacenter" if dc else "cloud"
    settings["namespace"] = f"u-{caller.user.id}.{body.profile_name}"
    try:
        return ExportProfile.model_validate(settings)
    except PydanticValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ValidationError(f"profile.{where}: {first['msg']}") from None


def _site(row: JiraConnectionRow) -> str:
    return row.cloud_id or row.base_url


async def _plan(
    body: StoriesRequest, caller: Caller, ctx: AccountsDep
) -> tuple[ExportPlan, JiraConnectionRow]:
    row = await ctx.connections.get(caller.user.id, body.connection_id)
    profile = _profile(body, caller, row)
    stories = parse_stories(body.content, detect_format(body.filename))
    ids = [e.id for e in stories.epics] + [s.id for s in stories.stories]
    ledger = WriteLedger(ctx.sessions)
    return plan_export(stories, profile, await prior_state(ledger, _site(row), profile, ids)), row


@router.post("/preview")
async def preview(body: StoriesRequest, caller: ApiCallerDep, ctx: AccountsDep) -> dict[str, Any]:
    """The plan of the export: nothing is written."""
    caller.require(ApiKeyScope.READ)
    plan, _ = await _plan(body, caller, ctx)
    return plan.to_dict()


@router.post("/export")
async def export(body: StoriesRequest, caller: ApiCallerDep, ctx: AccountsDep) -> dict[str, Any]:
    """Apply the plan (refused with 422 when it has problems); per-item results."""
    caller.require(ApiKeyScope.WRITE)
    plan, row = await _plan(body, caller, ctx)
    if not plan.ok:
        return {"ok": False, "plan": plan.to_dict(), "results": []}
    jira = await ctx.clients.for_connection(row)
    try:
        result = await apply_export(
            plan, jira=jira, ledger=WriteLedger(ctx.sessions), site=_site(row)
        )
    finally:
        await jira.aclose()
    base = row.base_url.rstrip("/")
    return {
        "ok": result.ok,
        "counts": result.counts(),
        "results": [
            {
                "item": r.item_id,
                "level": r.level,
                "status": r.status,
                "key": r.key,
                "url": f"{base}/browse/{r.key}" if r.key else None,
                "error": r.error,
            }
            for r in result.results
        ],
    }
