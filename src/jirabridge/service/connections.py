"""Jira connections as the service offers them: create (test before save), list, update,
test, delete, OAuth disconnect, and re-encryption of every secret under a new key.

Every method takes the acting user's id and goes through the scoped repository, so another
user's connection is "not found". Network calls (URL resolution, the connection test) happen
outside database transactions; a failing test saves nothing unless the caller insists
(``force=True``), and then the failure is recorded on the connection.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from jirabridge.errors import JirabridgeError, ValidationError
from jirabridge.jira.client import JiraClient
from jirabridge.service.connection_clients import JiraClientFactory, PlainCredentials
from jirabridge.service.url_safety import Resolver, check_jira_url
from jirabridge.store.account_models import ConnectionKind, JiraConnectionRow, new_id
from jirabridge.store.accounts import (
    AuditLog,
    ConnectionRepository,
    connections_for_rotation_unscoped,
)
from jirabridge.store.connection_secrets import ConnectionSecrets
from jirabridge.store.db import read_transaction, write_transaction
from jirabridge.store.report_cache import connection_cache_site, forget_cache_site

__all__ = [
    "ConnectionChanges",
    "ConnectionInput",
    "ConnectionService",
    "ConnectionTestFailed",
    "TestOutcome",
    "rotate_all_secrets",
]

logger = logging.getLogger(__name__)

_NEEDS_EMAIL = {ConnectionKind.CLOUD_TOKEN: "e-mail", ConnectionKind.DC_BASIC: "user name"}


def _utcnow() -> datetime:
    return datetime.now(UTC)


class ConnectionTestFailed(ValidationError):
    """The connection test failed, so nothing was saved. ``message`` says why."""

    code = "connection-test-failed"


@dataclass(frozen=True)
class ConnectionInput:
    """What a user enters to create a token, PAT or basic connection."""

    name: str
    kind: ConnectionKind
    base_url: str
    secret: str = field(repr=False)
    email: str | None = None
    team_id: str | None = None


@dataclass(frozen=True)
class ConnectionChanges:
    """A partial update; ``None`` leaves a field as it is."""

    name: str | None = None
    base_url: str | None = None
    email: str | None = None
    secret: str | None = field(default=None, repr=False)
    is_active: bool | None = None


@dataclass(frozen=True)
class TestOutcome:
    """What a connection test found."""

    ok: bool
    verdict: str
    message: str
    deployment_type: str | None = None
    version: str | None = None
    site_name: str | None = None


class ConnectionService:
    """The connection use cases, for the REST API, the pages and the CLI."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        secrets: ConnectionSecrets,
        clients: JiraClientFactory,
        *,
        allow_private_urls: bool = False,
        resolver: Resolver | None = None,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self._sessions = sessions
        self._secrets = secrets
        self._clients = clients
        self._allow_private = allow_private_urls
        self._resolver = resolver
        self._clock = clock
        self._before_disconnect: list[Callable[[JiraConnectionRow], Awaitable[object]]] = []

    def before_disconnect(self, hook: Callable[[JiraConnectionRow], Awaitable[object]]) -> None:
        """Run ``hook`` while a connection being disconnected still has its tokens.

        For clean-up that needs Jira (deleting our dynamic webhooks). A failing hook is logged
        and does not stop the disconnect: the user's wish to cut access wins.
        """
        self._before_disconnect.append(hook)

    def __repr__(self) -> str:
        return f"ConnectionService(allow_private_urls={self._allow_private!r})"

    async def _safe_url(self, url: str) -> str:
        return await check_jira_url(url, allow_private=self._allow_private, resolver=self._resolver)

    @staticmethod
    def _validate(data: ConnectionInput) -> None:
        if not data.name.strip():
            raise ValidationError("give the connection a name", details={"field": "name"})
        if data.kind == ConnectionKind.OAUTH:
            raise ValidationError(
                "OAuth connections are made with the OAuth connect flow, not this form",
                details={"field": "kind"},
            )
        if not data.secret.strip():
            raise ValidationError("the token or password is required", details={"field": "secret"})
        what = _NEEDS_EMAIL.get(data.kind)
        if what and not (data.email or "").strip():
            raise ValidationError(f"the {what} is required", details={"field": "email"})

    async def test_credentials(self, creds: PlainCredentials) -> TestOutcome:
        """Run the Jira connection test on credentials (no database involved)."""
        try:
            client = self._clients.for_credentials(creds)
        except JirabridgeError as exc:
            return TestOutcome(ok=False, verdict="invalid", message=exc.message)
        return await self._run_test(client)

    @staticmethod
    async def _run_test(client: JiraClient) -> TestOutcome:
        async with client:
            try:
                check = await client.test_connection()
            except JirabridgeError as exc:
                return TestOutcome(ok=False, verdict="error", message=exc.message)
        server = check.server
        return TestOutcome(
            ok=check.ok,
            verdict=str(check.verdict.value),
            message=check.message,
            deployment_type=server.deployment_type if server else None,
            version=server.version if server else None,
            site_name=server.server_title if server else None,
        )

    async def test_input(self, data: ConnectionInput) -> TestOutcome:
        """Validate and test what a user entered, saving nothing (the "Test" button)."""
        self._validate(data)
        base_url = await self._safe_url(data.base_url)
        email = (data.email or "").strip() or None
        return await self.test_credentials(
            PlainCredentials(data.kind, base_url, email, data.secret.strip())
        )

    async def create(
        self, user_id: str, data: ConnectionInput, *, test: bool = True, force: bool = False
    ) -> tuple[JiraConnectionRow, TestOutcome | None]:
        """Validate, test, then save a new connection.

        A failed test raises :class:`ConnectionTestFailed` and saves nothing, unless ``force``.
        """
        self._validate(data)
        base_url = await self._safe_url(data.base_url)
        email = (data.email or "").strip() or None
        outcome: TestOutcome | None = None
        if test:
            outcome = await self.test_credentials(
                PlainCredentials(data.kind, base_url, email, data.secret.strip())
            )
            if not outcome.ok and not force:
                raise ConnectionTestFailed(
                    f"the connection test failed, so nothing was saved: {outcome.message}",
                    details={"verdict": outcome.verdict},
                )
        async with write_transaction(self._sessions) as session:
            row = JiraConnectionRow(
                id=new_id(),
                owner_user_id=None if data.team_id else user_id,
                owner_team_id=data.team_id,
                name=data.name.strip(),
                kind=data.kind.value,
                base_url=base_url,
                email=email,
            )
            self._secrets.set_secret(row, data.secret.strip())
            if outcome is not None:
                self._apply_outcome(row, outcome)
            await ConnectionRepository(session, user_id).add(row)
            await AuditLog(session).record(
                "connection.created",
                target_type="connection",
                target_id=row.id,
                actor_user_id=user_id,
                details={"kind": row.kind, "base_url": base_url, "tested": test},
                at=self._clock(),
            )
        return row, outcome

    def _apply_outcome(self, row: JiraConnectionRow, outcome: TestOutcome) -> None:
        row.last_test_ok = outcome.ok
        row.last_test_message = outcome.message
        row.last_tested_at = self._clock()
        if outcome.ok:
            row.deployment_type = outcome.deployment_type or row.deployment_type
            row.server_version = outcome.version or row.server_version
            row.site_name = outcome.site_name or row.site_name

    async def list(self, user_id: str) -> list[JiraConnectionRow]:
        """The user's connections and their teams'."""
        async with read_transaction(self._sessions) as session:
            return list(await ConnectionRepository(session, user_id).list())

    async def get(self, user_id: str, connection_id: str) -> JiraConnectionRow:
        """One visible connection, or NotFoundError."""
        async with read_transaction(self._sessions) as session:
            return await ConnectionRepository(session, user_id).get(connection_id)

    async def update(
        self, user_id: str, connection_id: str, changes: ConnectionChanges
    ) -> JiraConnectionRow:
        """Change name, URL, e-mail, secret or the active flag."""
        base_url = await self._safe_url(changes.base_url) if changes.base_url else None
        async with write_transaction(self._sessions) as session:
            row = await ConnectionRepository(session, user_id).get(connection_id, for_update=True)
            changed: list[str] = []
            if changes.name is not None:
                if not changes.name.strip():
                    raise ValidationError("the name must not be empty", details={"field": "name"})
                row.name = changes.name.strip()
                changed.append("name")
            if base_url is not None and base_url != row.base_url:
                if row.kind == ConnectionKind.OAUTH:
                    raise ValidationError("an OAuth connection's site is chosen when connecting")
                row.base_url = base_url
                changed.append("base_url")
            if changes.email is not None:
                row.email = changes.email.strip() or None
                changed.append("email")
            if changes.secret is not None:
                if row.kind == ConnectionKind.OAUTH:
                    raise ValidationError("an OAuth connection has no token to type in")
                if not changes.secret.strip():
                    raise ValidationError(
                        "the token must not be empty", details={"field": "secret"}
                    )
                self._secrets.set_secret(row, changes.secret.strip())
                changed.append("secret")
            if changes.is_active is not None:
                row.is_active = changes.is_active
                changed.append("is_active")
            if changed:
                row.updated_at = self._clock()
                await AuditLog(session).record(
                    "connection.updated",
                    target_type="connection",
                    target_id=row.id,
                    actor_user_id=user_id,
                    details={"fields": changed},
                    at=self._clock(),
                )
        return row

    async def test(self, user_id: str, connection_id: str) -> TestOutcome:
        """Test a stored connection and record the result."""
        async with read_transaction(self._sessions) as session:
            row = await ConnectionRepository(session, user_id).get(connection_id)
        try:
            client = await self._clients.for_connection(row)
        except JirabridgeError as exc:
            outcome = TestOutcome(ok=False, verdict="error", message=exc.message)
        else:
            outcome = await self._run_test(client)
        async with write_transaction(self._sessions) as session:
            row = await ConnectionRepository(session, user_id).get(connection_id, for_update=True)
            self._apply_outcome(row, outcome)
            await AuditLog(session).record(
                "connection.tested",
                target_type="connection",
                target_id=row.id,
                actor_user_id=user_id,
                outcome="ok" if outcome.ok else "failed",
                message=outcome.message,
                at=self._clock(),
            )
        return outcome

    async def delete(self, user_id: str, connection_id: str) -> None:
        """Delete a connection, its encrypted secrets and the report data cached through it."""
        async with write_transaction(self._sessions) as session:
            row = await ConnectionRepository(session, user_id).delete(connection_id)
            await forget_cache_site(session, connection_cache_site(row.id))
            await AuditLog(session).record(
                "connection.deleted",
                target_type="connection",
                target_id=row.id,
                actor_user_id=user_id,
                details={"kind": row.kind, "base_url": row.base_url},
                at=self._clock(),
            )

    async def disconnect(self, user_id: str, connection_id: str) -> JiraConnectionRow:
        """Forget an OAuth connection's tokens (the user reconnects to use it again)."""
        if self._before_disconnect:
            async with read_transaction(self._sessions) as session:
                current = await ConnectionRepository(session, user_id).get(connection_id)
            for hook in self._before_disconnect:
                try:
                    await hook(current)
                except Exception as exc:  # never block a disconnect on clean-up
                    logger.warning(
                        "clean-up before disconnecting %s failed: %s", connection_id, exc
                    )
        async with write_transaction(self._sessions) as session:
            row = await ConnectionRepository(session, user_id).get(connection_id, for_update=True)
            if row.kind != ConnectionKind.OAUTH:
                raise ValidationError("only OAuth connections can be disconnected; delete it")
            self._secrets.clear(row)
            row.is_active = False
            row.needs_reconnect = True
            await AuditLog(session).record(
                "connection.revoked",
                target_type="connection",
                target_id=row.id,
                actor_user_id=user_id,
                message="OAuth tokens removed (disconnect)",
                at=self._clock(),
            )
        return row


async def rotate_all_secrets(
    sessions: async_sessionmaker[AsyncSession],
    secrets: ConnectionSecrets,
    *,
    actor_user_id: str | None = None,
) -> int:
    """Re-encrypt every stored connection secret under the newest key; returns how many.

    Runs in one transaction with every row locked, so it is all or nothing. A ciphertext that
    no key opens, or that is bound to another row, aborts the run with a clear error.
    """
    async with write_transaction(sessions) as session:
        rows = await connections_for_rotation_unscoped(session)
        total = 0
        for row in rows:
            total += secrets.rotate(row)
        await AuditLog(session).record(
            "secrets.rotated",
            target_type="secrets",
            actor_user_id=actor_user_id,
            details={"connections": len(rows), "ciphertexts": total},
        )
    logger.info("re-encrypted %d secrets of %d connections", total, len(rows))
    return total
