"""Webhook routes: the public intake URLs and the owner-scoped management API.

Intake (no login; the endpoint id in the URL plus the signature authenticate):
``POST /webhooks/jira/{endpoint_id}`` and ``POST /webhooks/github/{endpoint_id}``.
Management (API key or session): endpoints, deliveries, replay, status links, live events.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Query, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from jirabridge.errors import StorageError, ValidationError
from jirabridge.service.api_keys import ApiKeyScope
from jirabridge.service.runtime import Runtime
from jirabridge.service.webhook_intake import create_endpoint
from jirabridge.service.webhook_wiring import (
    WebhooksContext,
    build_webhooks_context,
    setup_instructions,
)
from jirabridge.store.account_models import TeamMembershipRow
from jirabridge.store.webhook_models import (
    DeliveryStatus,
    EndpointKind,
    StatusLinkRow,
    WebhookDeliveryRow,
    WebhookEndpointRow,
    WebhookSource,
)
from jirabridge.store.webhooks import (
    Owner,
    list_deliveries,
    list_endpoints,
    replay_deliveries,
)
from jirabridge.web.auth import Caller, require_api_caller
from jirabridge.web.problems import problem

__all__ = [
    "DeliveryOut",
    "StatusLinkOut",
    "WebhooksDep",
    "endpoint_out",
    "get_webhooks",
    "intake_router",
    "owned_links",
    "owner_of",
    "router",
    "webhooks_for_app",
]

intake_router = APIRouter(tags=["webhooks"])
router = APIRouter(prefix="/api/webhooks", tags=["webhooks"])

CallerDep = Annotated[Caller, Depends(require_api_caller)]


def webhooks_for_app(app: FastAPI) -> WebhooksContext:
    """The webhook services of ``app`` (built on first use from its runtime)."""
    context: WebhooksContext | None = getattr(app.state, "webhooks", None)
    if context is None:
        runtime: Runtime | None = getattr(app.state, "runtime", None)
        if runtime is None:
            raise StorageError("the service is still starting")
        context = build_webhooks_context(runtime.settings, runtime.sessions)
        app.state.webhooks = context
    return context


def get_webhooks(request: Request) -> WebhooksContext:
    """FastAPI dependency: the webhook services of this app."""
    return webhooks_for_app(request.app)


WebhooksDep = Annotated[WebhooksContext, Depends(get_webhooks)]


# -- intake ---------------------------------------------------------------------------------------


def _is_json(content_type: str | None) -> bool:
    media = (content_type or "").split(";", 1)[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


async def _read_limited(request: Request, limit: int) -> bytes | None:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


async def _receive(
    request: Request, source: WebhookSource, endpoint_id: str, context: WebhooksContext
) -> Response:
    if not _is_json(request.headers.get("content-type")):
        return problem(
            415, "webhook bodies must be application/json", code="unsupported-media-type"
        )
    body = await _read_limited(request, context.max_body)
    if body is None:
        return problem(
            413,
            f"webhook body is larger than {context.max_body} bytes",
            code="payload-too-large",
        )
    result = await context.intake.receive(source, endpoint_id, request.headers, body)
    # 200 for a repeat too: the sender must stop retrying what we already have.
    return JSONResponse(
        {"delivery_id": result.delivery_id, "duplicate": not result.new},
        status_code=202 if result.new else 200,
    )


@intake_router.post("/webhooks/jira/{endpoint_id}", include_in_schema=False)
async def receive_jira(request: Request, endpoint_id: str, context: WebhooksDep) -> Response:
    """Receive a Jira admin (HMAC) or dynamic (JWT) webhook delivery."""
    return await _receive(request, WebhookSource.JIRA, endpoint_id, context)


@intake_router.post("/webhooks/github/{endpoint_id}", include_in_schema=False)
async def receive_github(request: Request, endpoint_id: str, context: WebhooksDep) -> Response:
    """Receive a GitHub webhook delivery (``X-Hub-Signature-256``)."""
    return await _receive(request, WebhookSource.GITHUB, endpoint_id, context)


# -- management -----------------------------------------------------------------------------------


async def owner_of(context: WebhooksContext, caller: Caller) -> Owner:
    """The caller as an :class:`Owner`, with the teams they belong to."""
    async with context.sessions() as session:
        teams = await session.scalars(
            select(TeamMembershipRow.team_id).where(TeamMembershipRow.user_id == caller.user.id)
        )
        return Owner(user_id=caller.user.id, team_ids=tuple(teams))


class EndpointCreate(BaseModel):
    """A new receiving endpoint."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    source: WebhookSource
    kind: EndpointKind | None = Field(
        default=None, description="admin (default for Jira), dynamic, or github"
    )
    connection_id: str | None = None
    team_id: str | None = None


class EndpointOut(BaseModel):
    """An endpoint (never its secret)."""

    id: str
    name: str
    source: str
    kind: str
    url: str
    connection_id: str | None
    last_event_at: datetime | None
    is_active: bool


class EndpointCreated(BaseModel):
    """A created endpoint, its secret (shown this once) and setup instructions."""

    endpoint: EndpointOut
    secret: str | None
    instructions: str


def endpoint_out(context: WebhooksContext, row: WebhookEndpointRow) -> EndpointOut:
    """The API shape of an endpoint, with its public URL."""
    return EndpointOut(
        id=row.id,
        name=row.name,
        source=row.source,
        kind=row.kind,
        url=f"{context.public_base}/webhooks/{row.source}/{row.id}",
        connection_id=row.connection_id,
        last_event_at=row.last_event_at,
        is_active=row.is_active,
    )


@router.post("/endpoints", status_code=201)
async def create_webhook_endpoint(
    body: EndpointCreate, caller: CallerDep, context: WebhooksDep
) -> EndpointCreated:
    """Create an endpoint; the response holds its secret, which is not shown again."""
    caller.require(ApiKeyScope.WRITE)
    kind = body.kind or (
        EndpointKind.GITHUB if body.source == WebhookSource.GITHUB else EndpointKind.ADMIN
    )
    owner = await owner_of(context, caller)
    if body.team_id is not None and body.team_id not in owner.team_ids:
        raise ValidationError("you can only create endpoints for teams you belong to")
    secret: str | None = None
    if kind == EndpointKind.DYNAMIC:
        if context.oauth_client_secret is None:
            raise ValidationError("dynamic webhooks need the OAuth app configured")
        secret = context.oauth_client_secret
    async with context.sessions() as session:
        row, plain = await create_endpoint(
            session,
            context.box,
            owner_user_id=None if body.team_id else caller.user.id,
            owner_team_id=body.team_id,
            name=body.name,
            source=body.source,
            kind=kind,
            connection_id=body.connection_id,
            secret=secret,
        )
        await session.commit()
    out = endpoint_out(context, row)
    return EndpointCreated(
        endpoint=out,
        secret=None if kind == EndpointKind.DYNAMIC else plain,
        instructions=setup_instructions(kind, out.url),
    )


@router.get("/endpoints")
async def list_webhook_endpoints(caller: CallerDep, context: WebhooksDep) -> list[EndpointOut]:
    """The caller's endpoints, with when each last received an event (the health view)."""
    owner = await owner_of(context, caller)
    async with context.sessions() as session:
        rows = await list_endpoints(session, owner)
    return [endpoint_out(context, row) for row in rows]


class DeliveryOut(BaseModel):
    """One stored delivery (without its body)."""

    id: int
    endpoint_id: str
    source: str
    event: str
    delivery_id: str
    status: str
    attempts: int
    last_error: str | None
    received_at: datetime
    processed_at: datetime | None

    @classmethod
    def of(cls, row: WebhookDeliveryRow) -> DeliveryOut:
        """Build from a row."""
        return cls(
            id=row.id,
            endpoint_id=row.endpoint_id,
            source=row.source,
            event=row.event,
            delivery_id=row.delivery_id,
            status=row.status,
            attempts=row.attempts,
            last_error=row.last_error,
            received_at=row.created_at,
            processed_at=row.processed_at,
        )


@router.get("/deliveries")
async def list_webhook_deliveries(
    caller: CallerDep,
    context: WebhooksDep,
    status: Annotated[DeliveryStatus | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[DeliveryOut]:
    """The caller's deliveries, newest first; ``status=dead`` is the dead-letter list."""
    owner = await owner_of(context, caller)
    async with context.sessions() as session:
        rows = await list_deliveries(session, owner, status=status, limit=limit)
    return [DeliveryOut.of(row) for row in rows]


class ReplayOut(BaseModel):
    """How many deliveries were queued again."""

    queued: int


@router.post("/deliveries/replay")
async def replay_all(caller: CallerDep, context: WebhooksDep) -> ReplayOut:
    """Queue every dead delivery of the caller's again."""
    caller.require(ApiKeyScope.WRITE)
    owner = await owner_of(context, caller)
    async with context.sessions() as session:
        queued = await replay_deliveries(session, owner, now=datetime.now(UTC))
        await session.commit()
    return ReplayOut(queued=queued)


@router.post("/deliveries/{delivery_pk}/replay")
async def replay_one(delivery_pk: int, caller: CallerDep, context: WebhooksDep) -> ReplayOut:
    """Queue one delivery again (404 if it is not the caller's)."""
    caller.require(ApiKeyScope.WRITE)
    owner = await owner_of(context, caller)
    async with context.sessions() as session:
        queued = await replay_deliveries(
            session, owner, now=datetime.now(UTC), delivery_pk=delivery_pk
        )
        await session.commit()
    return ReplayOut(queued=queued)


class StatusLinkOut(BaseModel):
    """A local object following a Jira issue's status."""

    id: str
    issue_key: str
    subject_kind: str
    subject_id: str
    local_state: str
    jira_status: str | None
    conflict: str | None
    version: int

    @classmethod
    def of(cls, row: StatusLinkRow) -> StatusLinkOut:
        """Build from a row."""
        return cls(
            id=row.id,
            issue_key=row.issue_key,
            subject_kind=row.subject_kind,
            subject_id=row.subject_id,
            local_state=row.local_state,
            jira_status=row.jira_status,
            conflict=row.conflict,
            version=row.version,
        )


def owned_links(owner: Owner) -> Any:
    """A query of the status links ``owner`` may see."""
    clause = StatusLinkRow.owner_user_id == owner.user_id
    if owner.team_ids:
        clause = clause | StatusLinkRow.owner_team_id.in_(owner.team_ids)
    return select(StatusLinkRow).where(clause).order_by(StatusLinkRow.issue_key)


@router.get("/status-links")
async def list_status_links(caller: CallerDep, context: WebhooksDep) -> list[StatusLinkOut]:
    """The caller's linked objects with their mirrored Jira status and conflicts."""
    owner = await owner_of(context, caller)
    async with context.sessions() as session:
        rows = await session.scalars(owned_links(owner))
        return [StatusLinkOut.of(row) for row in rows]


@router.get("/status-events")
async def status_events(request: Request, caller: CallerDep, context: WebhooksDep) -> Response:
    """Server-sent events: one ``status`` event per applied change to the caller's links."""
    owner = await owner_of(context, caller)
    async with context.sessions() as session:
        visible = set(await session.scalars(owned_links(owner).with_only_columns(StatusLinkRow.id)))

    async def stream() -> AsyncIterator[bytes]:
        yield b": connected\n\n"
        async with context.live.listen() as queue:
            while not await request.is_disconnected():
                item = await queue.get()
                if item.link_id not in visible:
                    continue
                data = {
                    "link_id": item.link_id,
                    "subject_kind": item.subject_kind,
                    "subject_id": item.subject_id,
                    "action": item.plan.action.value,
                    "jira_status": item.plan.jira_status,
                    "local_state": item.plan.new_local_state,
                    "reason": item.plan.reason,
                }
                yield f"event: status\ndata: {json.dumps(data)}\n\n".encode()

    return StreamingResponse(stream(), media_type="text/event-stream")
