"""REST API of GitHub connections and backfills.

``/api/github/connections`` (CRUD), ``.../{id}/test``, ``.../{id}/repositories``,
``.../{id}/webhooks`` (set up through GitHub, or instructions), ``POST /api/github/backfill``
(a run id) with ``/api/github/backfill/{run_id}`` (poll) and ``.../events`` (server-sent
events). Scoped to the caller or one of their teams (``?owner=team:<id>``); anyone else's
connection or run is a 404. Tokens and private keys go in and never come out; the webhook
secret comes out once, in the answer to the create.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from jirabridge.service.api_keys import ApiKeyScope
from jirabridge.service.github import GitHubService, build_github_service
from jirabridge.store.github_connections import GitHubConnection
from jirabridge.sync.devlinks import jobs as devlink_jobs
from jirabridge.web.auth import AccountsDep, Caller, require_api_caller
from jirabridge.web.deps import get_runtime
from jirabridge.web.routes.devlinks_api import resolve_owner

__all__ = ["ConnectionOut", "get_github_service", "router"]

router = APIRouter(prefix="/api/github", tags=["github"])

CallerDep = Annotated[Caller, Depends(require_api_caller)]
OwnerQuery = Annotated[str | None, Query(max_length=48)]
_PROGRESS_POLL_SEC = 0.5


def get_github_service(request: Request, accounts: AccountsDep) -> GitHubService:
    """The app's :class:`GitHubService` (built on first use from the runtime)."""
    service: GitHubService | None = getattr(request.app.state, "github", None)
    if service is None:
        runtime = get_runtime(request)
        service = build_github_service(
            runtime.settings,
            runtime.sessions,
            jira_clients=accounts.clients,
            box=accounts.secrets.box,
            jobs=runtime.jobs,
        )
        request.app.state.github = service
        # Workflows started here use the same clients (and, in tests, the same transports).
        devlink_jobs.configure(service, jobs=runtime.jobs)
    return service


ServiceDep = Annotated[GitHubService, Depends(get_github_service)]


class ConnectionOut(BaseModel):
    """A GitHub connection, without its secrets."""

    id: str
    owner: str
    name: str
    kind: str
    app_id: str | None
    installation_id: str | None
    repos: list[str]
    project_keys: list[str]
    triage_label: str | None
    has_triage_rules: bool
    jira_connection_id: str | None
    webhook_endpoint_id: str | None
    webhook_url: str | None

    @classmethod
    def of(cls, c: GitHubConnection, service: GitHubService) -> ConnectionOut:
        """The public view of ``c``."""
        return cls(
            id=c.id,
            owner=c.owner_key,
            name=c.name,
            kind=c.kind,
            app_id=c.app_id,
            installation_id=c.installation_id,
            repos=list(c.repos),
            project_keys=list(c.project_keys),
            triage_label=c.triage_label,
            has_triage_rules=bool(c.triage_rules),
            jira_connection_id=c.jira_connection_id,
            webhook_endpoint_id=c.webhook_endpoint_id,
            webhook_url=(
                service.webhook_url(c.webhook_endpoint_id) if c.webhook_endpoint_id else None
            ),
        )


class ConnectionIn(BaseModel):
    """A new connection: a token, or a GitHub App installation (App id, installation id, key)."""

    name: str = Field(min_length=1, max_length=200)
    kind: Literal["token", "app"] = "token"
    token: str | None = Field(default=None, max_length=500)
    private_key: str | None = Field(default=None, max_length=20_000)
    app_id: str | None = Field(default=None, max_length=32)
    installation_id: str | None = Field(default=None, max_length=32)
    repos: list[str] = Field(default_factory=list, max_length=500)
    project_keys: list[str] = Field(default_factory=list, max_length=200)
    triage_label: str | None = Field(default=None, max_length=100)
    triage_rules: str | None = Field(default=None, max_length=200_000)
    jira_connection_id: str | None = Field(default=None, max_length=36)

    def __repr__(self) -> str:
        return f"ConnectionIn(name={self.name!r}, kind={self.kind!r})"


class CreatedOut(BaseModel):
    """A created connection, the URL GitHub must deliver to, and the secret (shown once)."""

    connection: ConnectionOut
    webhook_url: str
    webhook_secret: str


class ConnectionPatch(BaseModel):
    """Settings to change; omitted ones stay."""

    repos: list[str] | None = Field(default=None, max_length=500)
    project_keys: list[str] | None = Field(default=None, max_length=200)
    triage_label: str | None = Field(default=None, max_length=100)
    triage_rules: str | None = Field(default=None, max_length=200_000)
    jira_connection_id: str | None = Field(default=None, max_length=36)


class ReposIn(BaseModel):
    """The repository selection (``owner/name`` each)."""

    repos: list[str] = Field(max_length=500)


class BackfillIn(BaseModel):
    """What to backfill: a connection, how many months, optionally only some repositories."""

    connection_id: str = Field(max_length=36)
    months: int = Field(default=6, ge=1, le=120)
    repos: list[str] | None = Field(default=None, max_length=500)
    owner: str | None = Field(default=None, max_length=48)


@router.get("/connections", response_model=list[ConnectionOut])
async def list_connections(
    caller: CallerDep, ctx: AccountsDep, service: ServiceDep, owner: OwnerQuery = None
) -> list[ConnectionOut]:
    """The owner's GitHub connections."""
    key = await resolve_owner(caller, ctx, owner)
    return [ConnectionOut.of(c, service) for c in await service.store(key).list()]


@router.post("/connections", response_model=CreatedOut, status_code=201)
async def create_connection(
    body: ConnectionIn,
    caller: CallerDep,
    ctx: AccountsDep,
    service: ServiceDep,
    owner: OwnerQuery = None,
) -> CreatedOut:
    """Add a connection; the answer holds the webhook secret, which is not shown again."""
    key = await resolve_owner(caller, ctx, owner, ApiKeyScope.WRITE)
    secret = (body.private_key if body.kind == "app" else body.token) or ""
    created = await service.create(
        key,
        name=body.name,
        kind=body.kind,
        secret=secret,
        repos=body.repos,
        project_keys=body.project_keys,
        app_id=body.app_id,
        installation_id=body.installation_id,
        triage_label=body.triage_label,
        triage_rules=body.triage_rules,
        jira_connection_id=body.jira_connection_id,
    )
    return CreatedOut(
        connection=ConnectionOut.of(created.connection, service),
        webhook_url=created.webhook_url,
        webhook_secret=created.webhook_secret,
    )


@router.get("/connections/{connection_id}", response_model=ConnectionOut)
async def get_connection(
    connection_id: str,
    caller: CallerDep,
    ctx: AccountsDep,
    service: ServiceDep,
    owner: OwnerQuery = None,
) -> ConnectionOut:
    """One connection."""
    key = await resolve_owner(caller, ctx, owner)
    return ConnectionOut.of(await service.connection(key, connection_id), service)


@router.patch("/connections/{connection_id}", response_model=ConnectionOut)
async def update_connection(
    connection_id: str,
    body: ConnectionPatch,
    caller: CallerDep,
    ctx: AccountsDep,
    service: ServiceDep,
    owner: OwnerQuery = None,
) -> ConnectionOut:
    """Change repositories, project keys, the Jira connection or the triage settings."""
    key = await resolve_owner(caller, ctx, owner, ApiKeyScope.WRITE)
    updated = await service.update(
        key,
        connection_id,
        repos=body.repos,
        project_keys=body.project_keys,
        triage_label=body.triage_label,
        triage_rules=body.triage_rules,
        jira_connection_id=body.jira_connection_id,
    )
    return ConnectionOut.of(updated, service)


@router.put("/connections/{connection_id}/repositories", response_model=ConnectionOut)
async def select_repositories(
    connection_id: str,
    body: ReposIn,
    caller: CallerDep,
    ctx: AccountsDep,
    service: ServiceDep,
    owner: OwnerQuery = None,
) -> ConnectionOut:
    """Replace the repository selection."""
    key = await resolve_owner(caller, ctx, owner, ApiKeyScope.WRITE)
    return ConnectionOut.of(await service.update(key, connection_id, repos=body.repos), service)


@router.delete("/connections/{connection_id}", response_model=ConnectionOut)
async def delete_connection(
    connection_id: str,
    caller: CallerDep,
    ctx: AccountsDep,
    service: ServiceDep,
    owner: OwnerQuery = None,
) -> ConnectionOut:
    """Remove a connection and its webhook endpoint."""
    key = await resolve_owner(caller, ctx, owner, ApiKeyScope.WRITE)
    return ConnectionOut.of(await service.remove(key, connection_id), service)


@router.post("/connections/{connection_id}/test")
async def check_connection(
    connection_id: str,
    caller: CallerDep,
    ctx: AccountsDep,
    service: ServiceDep,
    owner: OwnerQuery = None,
) -> dict[str, Any]:
    """Call GitHub with the stored credentials: ``{ok, message, rate_remaining}``."""
    key = await resolve_owner(caller, ctx, owner)
    result = await service.test(key, connection_id)
    return {"ok": result.ok, "message": result.message, "rate_remaining": result.rate_remaining}


@router.post("/connections/{connection_id}/webhooks")
async def set_up_webhooks(
    connection_id: str,
    caller: CallerDep,
    ctx: AccountsDep,
    service: ServiceDep,
    owner: OwnerQuery = None,
) -> list[dict[str, Any]]:
    """Create the webhook on each selected repository; where GitHub does not allow it, the
    answer says how to add it by hand (with the secret: the caller may manage this connection)."""
    key = await resolve_owner(caller, ctx, owner, ApiKeyScope.WRITE)
    results = await service.set_up_webhooks(key, connection_id)
    return [
        {"repo": r.repo, "status": r.status, "hook_id": r.hook_id, "instructions": r.instructions}
        for r in results
    ]


@router.post("/backfill", status_code=202)
async def start_backfill(
    body: BackfillIn, caller: CallerDep, ctx: AccountsDep, service: ServiceDep
) -> dict[str, str]:
    """Start a durable backfill; poll ``/api/github/backfill/{run_id}`` or its ``/events``."""
    key = await resolve_owner(caller, ctx, body.owner, ApiKeyScope.WRITE)
    run_id = await service.start_backfill(
        key, body.connection_id, months=body.months, repos=body.repos
    )
    return {"run_id": run_id}


@router.get("/backfill/{run_id}")
async def backfill_status(
    run_id: str,
    caller: CallerDep,
    ctx: AccountsDep,
    service: ServiceDep,
    owner: OwnerQuery = None,
) -> dict[str, Any]:
    """Progress: ``{status, processed, total, eta_seconds, repos[], report}``."""
    key = await resolve_owner(caller, ctx, owner)
    return await service.backfill_progress(key, run_id)


@router.get("/backfill/{run_id}/events")
async def backfill_events(
    run_id: str,
    caller: CallerDep,
    ctx: AccountsDep,
    service: ServiceDep,
    owner: OwnerQuery = None,
) -> StreamingResponse:
    """Server-sent events: ``progress`` on every change, ``done`` when the run has ended."""
    key = await resolve_owner(caller, ctx, owner)
    first = await service.backfill_progress(key, run_id)

    async def stream() -> AsyncIterator[str]:
        last: dict[str, Any] | None = None
        current = first
        while True:
            comparable = {k: v for k, v in current.items() if k != "eta_seconds"}
            if comparable != last:
                event = "progress" if current["status"] == "running" else "done"
                yield f"event: {event}\ndata: {json.dumps(current)}\n\n"
                last = comparable
                if event == "done":
                    return
            await asyncio.sleep(_PROGRESS_POLL_SEC)
            current = await service.backfill_progress(key, run_id)

    return StreamingResponse(
        stream(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"}
    )
