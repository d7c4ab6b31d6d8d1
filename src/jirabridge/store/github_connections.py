"""GitHub connections per owner (user or team), secrets encrypted like Jira connections.

A connection is a personal/fine-grained token or a GitHub App installation (App id,
installation id and private key). Creating one generates the webhook secret that GitHub signs
deliveries with. Every lookup is scoped to the owner: another owner's id is "not found".
"""

from __future__ import annotations

import re
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from jirabridge.errors import NotFoundError, ValidationError
from jirabridge.store.db import read_transaction, write_transaction
from jirabridge.store.devlink_models import GitHubConnectionRow
from jirabridge.store.devlinks import OwnerRef
from jirabridge.store.secrets import SecretBinding, SecretBox

__all__ = ["GitHubConnection", "GitHubConnectionStore", "connection_for_endpoint"]

_REPO = re.compile(r"^[A-Za-z0-9_.-]{1,100}/[A-Za-z0-9_.-]{1,100}$")
_KINDS = ("token", "app")


@dataclass(frozen=True, slots=True)
class GitHubConnection:
    """A connection without its secrets (safe to show and log)."""

    id: str
    owner_key: str
    name: str
    kind: str
    app_id: str | None
    installation_id: str | None
    repos: tuple[str, ...]
    project_keys: tuple[str, ...]
    triage_label: str | None
    jira_connection_id: str | None = None
    webhook_endpoint_id: str | None = None
    triage_rules: str | None = None


def _public(row: GitHubConnectionRow) -> GitHubConnection:
    return GitHubConnection(
        row.id,
        row.owner_key,
        row.name,
        row.kind,
        row.app_id,
        row.installation_id,
        tuple(row.repos),
        tuple(row.project_keys),
        row.triage_label,
        row.jira_connection_id,
        row.webhook_endpoint_id,
        row.triage_rules,
    )


async def connection_for_endpoint(
    sessions: async_sessionmaker[AsyncSession], endpoint_id: str
) -> GitHubConnection | None:
    """The GitHub connection whose deliveries arrive at ``endpoint_id``, whoever owns it.

    For the webhook processor only: the endpoint (already verified) names the owner.
    """
    async with read_transaction(sessions) as session:
        row = (
            await session.execute(
                select(GitHubConnectionRow).where(
                    GitHubConnectionRow.webhook_endpoint_id == endpoint_id
                )
            )
        ).scalar_one_or_none()
    return None if row is None else _public(row)


class GitHubConnectionStore:
    """Connections of one owner (``user:<id>`` or ``team:<id>``)."""

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], box: SecretBox, owner_key: str
    ) -> None:
        self.owner = OwnerRef.parse(owner_key)
        self._sessions = sessions
        self._box = box
        self.owner_key = owner_key

    def _binding(self, connection_id: str, purpose: str) -> SecretBinding:
        return SecretBinding(self.owner_key, connection_id, f"github_{purpose}")

    async def create(
        self,
        *,
        name: str,
        kind: str,
        secret: str,
        repos: Sequence[str],
        project_keys: Sequence[str] = (),
        app_id: str | None = None,
        installation_id: str | None = None,
        triage_label: str | None = None,
        triage_rules: str | None = None,
        jira_connection_id: str | None = None,
    ) -> tuple[GitHubConnection, str]:
        """Store a connection; returns it and the generated webhook secret (shown once)."""
        if kind not in _KINDS:
            raise ValidationError("a GitHub connection is a 'token' or an 'app' installation")
        if not name.strip() or not secret:
            raise ValidationError("a GitHub connection needs a name and a token or private key")
        if kind == "app" and not (app_id and installation_id):
            raise ValidationError("a GitHub App connection needs the App id and installation id")
        bad = [r for r in repos if not _REPO.match(r)]
        if bad:
            raise ValidationError(f"repositories must look like 'owner/name': {', '.join(bad)}")
        connection_id = str(uuid.uuid4())
        webhook_secret = secrets.token_urlsafe(32)
        row = GitHubConnectionRow(
            id=connection_id,
            **self.owner.columns(),
            name=name.strip(),
            kind=kind,
            app_id=app_id,
            installation_id=installation_id,
            secret_ciphertext=self._box.encrypt(secret, self._binding(connection_id, "secret")),
            webhook_secret_ciphertext=self._box.encrypt(
                webhook_secret, self._binding(connection_id, "webhook_secret")
            ),
            repos=list(dict.fromkeys(repos)),
            project_keys=[p.upper() for p in project_keys],
            triage_label=triage_label,
            triage_rules=triage_rules,
            jira_connection_id=jira_connection_id,
        )
        async with write_transaction(self._sessions) as session:
            session.add(row)
        return _public(row), webhook_secret

    async def _row(self, connection_id: str) -> GitHubConnectionRow:
        async with read_transaction(self._sessions) as session:
            row = (
                await session.execute(
                    select(GitHubConnectionRow).where(
                        GitHubConnectionRow.id == connection_id,
                        self.owner.where(GitHubConnectionRow),
                    )
                )
            ).scalar_one_or_none()
        if row is None:
            raise NotFoundError("no such GitHub connection")
        return row

    async def get(self, connection_id: str) -> GitHubConnection:
        """One connection of this owner (404 for anyone else's)."""
        return _public(await self._row(connection_id))

    async def list(self) -> list[GitHubConnection]:
        """This owner's connections, by name."""
        async with read_transaction(self._sessions) as session:
            rows = (
                await session.execute(
                    select(GitHubConnectionRow)
                    .where(self.owner.where(GitHubConnectionRow))
                    .order_by(GitHubConnectionRow.name)
                )
            ).scalars()
            return [_public(r) for r in rows]

    async def secret(self, connection_id: str) -> str:
        """The decrypted token or private key."""
        row = await self._row(connection_id)
        return self._box.decrypt(row.secret_ciphertext, self._binding(row.id, "secret"))

    async def webhook_secret(self, connection_id: str) -> str:
        """The decrypted webhook secret (to verify deliveries)."""
        row = await self._row(connection_id)
        return self._box.decrypt(
            row.webhook_secret_ciphertext, self._binding(row.id, "webhook_secret")
        )

    async def select_repos(self, connection_id: str, repos: Sequence[str]) -> GitHubConnection:
        """Replace the repository selection."""
        bad = [r for r in repos if not _REPO.match(r)]
        if bad:
            raise ValidationError(f"repositories must look like 'owner/name': {', '.join(bad)}")
        await self._row(connection_id)
        async with write_transaction(self._sessions) as session:
            row = await session.get(GitHubConnectionRow, connection_id)
            assert row is not None  # checked just above, in this owner's scope
            row.repos = list(dict.fromkeys(repos))
        return await self.get(connection_id)

    async def update_settings(
        self,
        connection_id: str,
        *,
        project_keys: Sequence[str] | None = None,
        triage_label: str | None = None,
        triage_rules: str | None = None,
        jira_connection_id: str | None = None,
    ) -> GitHubConnection:
        """Change the given settings (None leaves a setting as it is; "" clears a text)."""
        await self._row(connection_id)
        async with write_transaction(self._sessions) as session:
            row = await session.get(GitHubConnectionRow, connection_id)
            assert row is not None  # checked just above, in this owner's scope
            if project_keys is not None:
                row.project_keys = [p.upper() for p in project_keys]
            if triage_label is not None:
                row.triage_label = triage_label or None
            if triage_rules is not None:
                row.triage_rules = triage_rules or None
            if jira_connection_id is not None:
                row.jira_connection_id = jira_connection_id or None
        return await self.get(connection_id)

    async def attach_endpoint(self, connection_id: str, endpoint_id: str) -> GitHubConnection:
        """Remember the webhook endpoint GitHub delivers this connection's events to."""
        await self._row(connection_id)
        async with write_transaction(self._sessions) as session:
            row = await session.get(GitHubConnectionRow, connection_id)
            assert row is not None  # checked just above, in this owner's scope
            row.webhook_endpoint_id = endpoint_id
        return await self.get(connection_id)

    async def delete(self, connection_id: str) -> GitHubConnection:
        """Remove a connection (404 for anyone else's); returns what was removed."""
        row = await self._row(connection_id)
        async with write_transaction(self._sessions) as session:
            stored = await session.get(GitHubConnectionRow, connection_id)
            if stored is not None:
                await session.delete(stored)
        return _public(row)
