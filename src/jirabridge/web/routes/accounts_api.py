"""REST API of accounts and Jira connections.

``/api/jira/connections`` (CRUD, ``/test``, ``/disconnect``), ``/api/account``, ``/api/keys``
and, for admins, ``/api/audit``. Authenticated by API key or login session (then CSRF-checked);
reads need the ``read`` scope, changes ``write``. Secrets are accepted, never returned.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from jirabridge.errors import PermissionDeniedError
from jirabridge.service.api_keys import ApiKeyScope
from jirabridge.service.connections import ConnectionChanges, ConnectionInput, TestOutcome
from jirabridge.store.account_models import ApiKeyRow, ConnectionKind, JiraConnectionRow
from jirabridge.store.accounts import AuditLog, TeamRepository
from jirabridge.store.db import read_transaction
from jirabridge.web.auth import AccountsDep, Caller, require_api_caller

__all__ = ["router"]

router = APIRouter(prefix="/api", tags=["accounts"])

CallerDep = Annotated[Caller, Depends(require_api_caller)]


class ConnectionOut(BaseModel):
    """A connection as the API shows it: never its secrets."""

    id: str
    name: str
    kind: ConnectionKind
    base_url: str
    email: str | None
    owner: str
    cloud_id: str | None
    site_name: str | None
    deployment_type: str | None
    server_version: str | None
    is_active: bool
    needs_reconnect: bool
    last_test_ok: bool | None
    last_test_message: str | None
    last_tested_at: datetime | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: JiraConnectionRow) -> ConnectionOut:
        """Build from a row."""
        return cls(
            id=row.id,
            name=row.name,
            kind=ConnectionKind(row.kind),
            base_url=row.base_url,
            email=row.email,
            owner=row.owner_ref,
            cloud_id=row.cloud_id,
            site_name=row.site_name,
            deployment_type=row.deployment_type,
            server_version=row.server_version,
            is_active=row.is_active,
            needs_reconnect=row.needs_reconnect,
            last_test_ok=row.last_test_ok,
            last_test_message=row.last_test_message,
            last_tested_at=row.last_tested_at,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )


class TestOut(BaseModel):
    """The result of a connection test."""

    ok: bool
    verdict: str
    message: str
    deployment_type: str | None = None
    version: str | None = None

    @classmethod
    def of(cls, outcome: TestOutcome) -> TestOut:
        """Build from a service outcome."""
        return cls(
            ok=outcome.ok,
            verdict=outcome.verdict,
            message=outcome.message,
            deployment_type=outcome.deployment_type,
            version=outcome.version,
        )


class ConnectionCreate(BaseModel):
    """A new token, PAT or basic connection (OAuth connections use the browser flow)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    kind: ConnectionKind
    base_url: str = Field(min_length=1, max_length=2048)
    email: str | None = Field(default=None, max_length=320)
    secret: SecretStr
    team_id: str | None = None
    test: bool = True
    force: bool = Field(default=False, description="Save even when the test fails.")


class ConnectionCreated(BaseModel):
    """The saved connection and its test result."""

    connection: ConnectionOut
    test: TestOut | None


class ConnectionUpdate(BaseModel):
    """Fields to change; omitted ones stay."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, max_length=200)
    base_url: str | None = Field(default=None, max_length=2048)
    email: str | None = Field(default=None, max_length=320)
    secret: SecretStr | None = None
    is_active: bool | None = None


class AccountOut(BaseModel):
    """The calling user."""

    id: str
    email: str
    display_name: str
    role: str
    teams: list[dict[str, str]]
    authenticated_via: str


class ApiKeyOut(BaseModel):
    """An API key without its secret."""

    id: str
    name: str
    prefix: str
    scopes: list[str]
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None

    @classmethod
    def of(cls, row: ApiKeyRow) -> ApiKeyOut:
        """Build from a row."""
        return cls(
            id=row.id,
            name=row.name,
            prefix=row.prefix,
            scopes=row.scopes.split(),
            created_at=row.created_at,
            last_used_at=row.last_used_at,
            revoked_at=row.revoked_at,
        )


class ApiKeyCreate(BaseModel):
    """A new key's name and scopes."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    scopes: list[str] = Field(default_factory=lambda: ["read"])


class ApiKeyCreated(ApiKeyOut):
    """A new key: ``key`` is shown this once and cannot be retrieved again."""

    key: str


@router.get("/jira/connections", response_model=list[ConnectionOut])
async def list_connections(caller: CallerDep, ctx: AccountsDep) -> list[ConnectionOut]:
    """Your connections and your teams'."""
    caller.require(ApiKeyScope.READ)
    return [ConnectionOut.of(row) for row in await ctx.connections.list(caller.user.id)]


@router.post("/jira/connections", response_model=ConnectionCreated, status_code=201)
async def create_connection(
    body: ConnectionCreate, caller: CallerDep, ctx: AccountsDep
) -> ConnectionCreated:
    """Test the credentials and save the connection (a failed test saves nothing unless
    ``force``)."""
    caller.require(ApiKeyScope.WRITE)
    row, outcome = await ctx.connections.create(
        caller.user.id,
        ConnectionInput(
            name=body.name,
            kind=body.kind,
            base_url=body.base_url,
            email=body.email,
            secret=body.secret.get_secret_value(),
            team_id=body.team_id,
        ),
        test=body.test,
        force=body.force,
    )
    return ConnectionCreated(
        connection=ConnectionOut.of(row), test=TestOut.of(outcome) if outcome else None
    )


@router.get("/jira/connections/{connection_id}", response_model=ConnectionOut)
async def get_connection(connection_id: str, caller: CallerDep, ctx: AccountsDep) -> ConnectionOut:
    """One connection."""
    caller.require(ApiKeyScope.READ)
    return ConnectionOut.of(await ctx.connections.get(caller.user.id, connection_id))


@router.put("/jira/connections/{connection_id}", response_model=ConnectionOut)
async def update_connection(
    connection_id: str, body: ConnectionUpdate, caller: CallerDep, ctx: AccountsDep
) -> ConnectionOut:
    """Change a connection."""
    caller.require(ApiKeyScope.WRITE)
    row = await ctx.connections.update(
        caller.user.id,
        connection_id,
        ConnectionChanges(
            name=body.name,
            base_url=body.base_url,
            email=body.email,
            secret=body.secret.get_secret_value() if body.secret else None,
            is_active=body.is_active,
        ),
    )
    return ConnectionOut.of(row)


@router.delete("/jira/connections/{connection_id}", status_code=204)
async def delete_connection(connection_id: str, caller: CallerDep, ctx: AccountsDep) -> Response:
    """Delete a connection and its secrets."""
    caller.require(ApiKeyScope.WRITE)
    await ctx.connections.delete(caller.user.id, connection_id)
    return Response(status_code=204)


@router.post("/jira/connections/{connection_id}/test", response_model=TestOut)
async def test_connection(connection_id: str, caller: CallerDep, ctx: AccountsDep) -> TestOut:
    """Test a stored connection now and record the result."""
    caller.require(ApiKeyScope.WRITE)
    return TestOut.of(await ctx.connections.test(caller.user.id, connection_id))


@router.post("/jira/connections/{connection_id}/disconnect", response_model=ConnectionOut)
async def disconnect_connection(
    connection_id: str, caller: CallerDep, ctx: AccountsDep
) -> ConnectionOut:
    """Remove an OAuth connection's tokens."""
    caller.require(ApiKeyScope.WRITE)
    return ConnectionOut.of(await ctx.connections.disconnect(caller.user.id, connection_id))


@router.get("/account", response_model=AccountOut)
async def account(caller: CallerDep, ctx: AccountsDep) -> AccountOut:
    """Who you are."""
    caller.require(ApiKeyScope.READ)
    async with read_transaction(ctx.sessions) as session:
        teams = await TeamRepository(session).teams_of(caller.user.id)
    return AccountOut(
        id=caller.user.id,
        email=caller.user.email,
        display_name=caller.user.display_name,
        role=caller.user.role,
        teams=[{"id": t.id, "name": t.name} for t in teams],
        authenticated_via=caller.via,
    )


@router.get("/keys", response_model=list[ApiKeyOut])
async def list_keys(caller: CallerDep, ctx: AccountsDep) -> list[ApiKeyOut]:
    """Your API keys (never their secrets)."""
    caller.require(ApiKeyScope.READ)
    return [ApiKeyOut.of(row) for row in await ctx.accounts.list_api_keys(caller.user.id)]


@router.post("/keys", response_model=ApiKeyCreated, status_code=201)
async def create_key(body: ApiKeyCreate, caller: CallerDep, ctx: AccountsDep) -> ApiKeyCreated:
    """Make a key; the response holds it once."""
    caller.require(ApiKeyScope.WRITE)
    created = await ctx.accounts.create_api_key(caller.user, name=body.name, scopes=body.scopes)
    return ApiKeyCreated(**ApiKeyOut.of(created.row).model_dump(), key=created.plaintext)


@router.delete("/keys/{key_id}", status_code=204)
async def revoke_key(key_id: str, caller: CallerDep, ctx: AccountsDep) -> Response:
    """Revoke a key."""
    caller.require(ApiKeyScope.WRITE)
    await ctx.accounts.revoke_api_key(caller.user.id, key_id)
    return Response(status_code=204)


@router.get("/audit")
async def audit(
    caller: CallerDep,
    ctx: AccountsDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
    action: str | None = None,
) -> dict[str, Any]:
    """The audit log (admins)."""
    if not caller.is_admin:
        raise PermissionDeniedError("the audit log is for administrators")
    caller.require(ApiKeyScope.ADMIN)
    async with read_transaction(ctx.sessions) as session:
        page = await AuditLog(session).page_unscoped(
            limit=limit, offset=offset, action_prefix=action
        )
    return {
        "total": page.total,
        "events": [
            {
                "id": e.id,
                "at": e.at.isoformat(),
                "actor_user_id": e.actor_user_id,
                "action": e.action,
                "target_type": e.target_type,
                "target_id": e.target_id,
                "outcome": e.outcome,
                "message": e.message,
                "details": e.details,
            }
            for e in page.events
        ],
    }
