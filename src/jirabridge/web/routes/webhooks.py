"""Webhook routes: the public intake URLs and the owner-scoped management API.

Intake (no login; the endpoint id in the URL plus the signature authenticate):
``POST /webhooks/jira/{endpoint_id}`` and ``POST /webhooks/github/{endpoint_id}``.
Management (API key or session): endpoints, deliveries, replay, status links, live events.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Header, Query, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from jirabridge.errors import StorageError
from jirabridge.service.api_keys import ApiKeyScope
from jirabridge.service.runtime import Runtime
from jirabridge.service.webhook_wiring import (
    WebhooksContext,
    build_webhooks_context,
    new_endpoint,
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
    EndpointHealth,
    Owner,
    endpoint_health,
    list_deliveries,
    list_endpoints,
    replay_deliveries,
)
from jirabridge.web.auth import Caller, require_api_caller
from jirabridge.web.problems import problem

__all__ = [
    "DeliveryOut",
    "HealthOut",
    "StatusLinkOut",
    "WebhooksDep",
    "endpoint_out",
    "get_webhooks",
    "health_of",
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


async def _receive(request: Request, source: WebhookSource) -> Response:
    endpoint_id: str = request.path_params["endpoint_id"]
    context = webhooks_for_app(request.app)
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


# The intake routes take the request alone (no dependencies to solve, no body model): FastAPI's
# dependency resolution was a third of the route's CPU per delivery (bench/RESULTS.md).


@intake_router.post("/webhooks/jira/{endpoint_id}", include_in_schema=False)
async def receive_jira(request: Request) -> Response:
    """Receive a Jira admin (HMAC) or dynamic (JWT) webhook delivery."""
    return await _receive(request, WebhookSource.JIRA)


@intake_router.post("/webhooks/github/{endpoint_id}", include_in_schema=False)
async def receive_github(request: Request) -> Response:
    """Receive a GitHub webhook delivery (``X-Hub-Signature-256``)."""
    return await _receive(request, WebhookSource.GITHUB)


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
    created = await new_endpoint(
        context,
        await owner_of(context, caller),
        name=body.name,
        source=body.source,
        kind=body.kind,
        connection_id=body.connection_id,
        team_id=body.team_id,
    )
    return EndpointCreated(
        endpoint=endpoint_out(context, created.row),
        secret=created.secret,
        instructions=created.instructions,
    )


@router.get("/endpoints")
async def list_webhook_endpoints(caller: CallerDep, context: WebhooksDep) -> list[EndpointOut]:
    """The caller's endpoints, with when each last received an event (the health view)."""
    owner = await owner_of(context, caller)
    async with context.sessions() as session:
        rows = await list_endpoints(session, owner)
    return [endpoint_out(context, row) for row in rows]


class HealthOut(BaseModel):
    """One endpoint's health: last event, backlog, and the connection's schedules."""

    endpoint: EndpointOut
    pending: int
    dead: int
    dynamic_webhook_ids: list[int] | None = None
    dynamic_jql_filter: str | None = None
    dynamic_expires_at: datetime | None = None
    dynamic_last_error: str | None = None
    polled_until: datetime | None = None
    last_poll_at: datetime | None = None
    poll_error: str | None = None

    @classmethod
    def of(cls, context: WebhooksContext, item: EndpointHealth) -> HealthOut:
        """Build from the repository's view."""
        reg, poll = item.registration, item.polling
        return cls(
            endpoint=endpoint_out(context, item.endpoint),
            pending=item.pending,
            dead=item.dead,
            dynamic_webhook_ids=list(reg.webhook_ids) if reg else None,
            dynamic_jql_filter=reg.jql_filter if reg else None,
            dynamic_expires_at=reg.expires_at if reg else None,
            dynamic_last_error=reg.last_error if reg else None,
            polled_until=poll.watermark if poll else None,
            last_poll_at=poll.last_run_at if poll else None,
            poll_error=poll.last_error if poll else None,
        )


async def health_of(context: WebhooksContext, owner: Owner) -> list[HealthOut]:
    """The health view of ``owner``'s endpoints."""
    async with context.sessions() as session:
        return [HealthOut.of(context, item) for item in await endpoint_health(session, owner)]


@router.get("/health")
async def webhook_health(caller: CallerDep, context: WebhooksDep) -> list[HealthOut]:
    """Per endpoint: when the last event arrived, what is waiting or dead, when the dynamic
    webhooks expire and when the connection was last polled (with any error)."""
    return await health_of(context, await owner_of(context, caller))


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


#: How often the stream looks at the database when no in-process change woke it: changes
#: applied by a worker in another process reach the page within this.
SSE_POLL_SEC = 1.0
#: How far back each look reaches before the cursor: a transaction stamped earlier may commit
#: later than one already sent. Rows re-seen in this window are not sent twice.
_SSE_LAG = timedelta(seconds=5)
_SSE_KEEPALIVE_SEC = 15.0


def _event_id(at: datetime) -> str:
    return str(int(at.timestamp() * 1_000_000))


def _cursor_from(last_event_id: str | None, now: datetime) -> datetime:
    if last_event_id and last_event_id.isdigit():
        return datetime.fromtimestamp(int(last_event_id) / 1_000_000, UTC)
    return now


def _status_event(row: StatusLinkRow) -> bytes:
    data = {
        "link_id": row.id,
        "issue_key": row.issue_key,
        "subject_kind": row.subject_kind,
        "subject_id": row.subject_id,
        "action": "conflict" if row.conflict else "apply",
        "jira_status": row.jira_status,
        "local_state": row.local_state,
        "reason": row.conflict,
        "version": row.version,
    }
    return f"id: {_event_id(row.updated_at)}\nevent: status\ndata: {json.dumps(data)}\n\n".encode()


@router.get("/status-events")
async def status_events(
    request: Request,
    caller: CallerDep,
    context: WebhooksDep,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
) -> Response:
    """Server-sent events: one ``status`` event per change to the caller's status links.

    Read from the database, so changes applied by any worker process arrive; an in-process
    change wakes the stream at once. Each event's id is the change's time: a reconnecting
    browser sends it back as ``Last-Event-ID`` and receives what changed after it.
    """
    owner = await owner_of(context, caller)
    cursor = _cursor_from(last_event_id, datetime.now(UTC))
    strict = last_event_id is not None

    async def changes(since: datetime, *, after: bool) -> list[StatusLinkRow]:
        query = owned_links(owner).order_by(None).order_by(StatusLinkRow.updated_at)
        clause = StatusLinkRow.updated_at > since if after else StatusLinkRow.updated_at >= since
        async with context.sessions() as session:
            return list(await session.scalars(query.where(clause)))

    async def stream() -> AsyncIterator[bytes]:
        nonlocal cursor
        yield b"retry: 2000\n: connected\n\n"
        sent: dict[str, int] = {}
        first = True
        idle = 0.0
        async with context.live.listen() as wake:
            while not await request.is_disconnected():
                # Resuming: strictly after the browser's last id; afterwards, with a lag window.
                rows = await changes(
                    cursor if first and strict else cursor - _SSE_LAG, after=first and strict
                )
                first = False
                for row in rows:
                    if sent.get(row.id, -1) >= row.version:
                        continue
                    sent[row.id] = row.version
                    cursor = max(cursor, row.updated_at)
                    idle = 0.0
                    yield _status_event(row)
                try:
                    await asyncio.wait_for(wake.get(), timeout=SSE_POLL_SEC)
                except TimeoutError:
                    idle += SSE_POLL_SEC
                    if idle >= _SSE_KEEPALIVE_SEC:
                        idle = 0.0
                        yield b": keep-alive\n\n"

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
