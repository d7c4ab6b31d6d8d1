"""Repositories of accounts and Jira connections.

Every query of a user's data is scoped: a repository built for a user only ever sees rows that
user owns or that belong to a team the user is a member of. A row outside that scope is
reported exactly like a missing one (:class:`~jirabridge.errors.NotFoundError`), so ids of
other people's objects cannot be probed. The few unscoped reads (authentication lookups, key
rotation, the admin audit log) are separate functions whose names say so.

Repositories never commit: the caller owns the transaction
(:func:`jirabridge.store.db.write_transaction`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from jirabridge.errors import ConflictError, NotFoundError, ValidationError
from jirabridge.store.account_models import (
    ApiKeyRow,
    AuditEventRow,
    JiraConnectionRow,
    OAuthPendingGrantRow,
    OAuthStateRow,
    TeamMembershipRow,
    TeamRow,
    UserRole,
    UserRow,
    UserSessionRow,
)
from jirabridge.store.models import utcnow

__all__ = [
    "ApiKeyRepository",
    "AuditLog",
    "ConnectionRepository",
    "OAuthStateRepository",
    "PendingGrantRepository",
    "SessionRepository",
    "TeamRepository",
    "UserRepository",
    "connections_for_rotation_unscoped",
    "find_api_key_by_prefix_unscoped",
    "get_connection_unscoped",
    "normalize_email",
    "visible_to",
]


def normalize_email(email: str) -> str:
    """Lower-case and strip an e-mail address; refuse one without ``@``."""
    value = email.strip().lower()
    if "@" not in value or value.startswith("@") or value.endswith("@") or len(value) > 320:
        raise ValidationError("a valid e-mail address is required", details={"field": "email"})
    return value


class UserRepository:
    """Local accounts. Used by login, the admin CLI and account pages."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def create(
        self,
        *,
        email: str,
        password_hash: str | None,
        role: UserRole = UserRole.MEMBER,
        display_name: str = "",
    ) -> UserRow:
        """Add a user; :class:`ConflictError` if the e-mail is taken."""
        normalized = normalize_email(email)
        if await self.by_email(normalized) is not None:
            raise ConflictError(f"a user with e-mail {normalized} already exists")
        row = UserRow(
            email=normalized,
            password_hash=password_hash,
            role=role.value,
            display_name=display_name or normalized.split("@", 1)[0],
        )
        self._session.add(row)
        try:
            await self._session.flush()
        except IntegrityError as exc:
            raise ConflictError(f"a user with e-mail {normalized} already exists") from exc
        return row

    async def get(self, user_id: str) -> UserRow:
        """The user with ``user_id``, or :class:`NotFoundError`."""
        row = await self._session.get(UserRow, user_id)
        if row is None:
            raise NotFoundError("no such user")
        return row

    async def by_email(self, email: str) -> UserRow | None:
        """The user with this e-mail (case-insensitive), if any."""
        try:
            normalized = normalize_email(email)
        except ValidationError:
            return None
        result = await self._session.execute(select(UserRow).where(UserRow.email == normalized))
        return result.scalar_one_or_none()

    async def list_all(self) -> Sequence[UserRow]:
        """Every user, by e-mail. For admins."""
        result = await self._session.execute(select(UserRow).order_by(UserRow.email))
        return result.scalars().all()

    async def set_password_hash(self, user_id: str, password_hash: str) -> None:
        """Replace a user's password hash."""
        (await self.get(user_id)).password_hash = password_hash
        await self._session.flush()

    async def record_login(self, user_id: str, at: datetime | None = None) -> None:
        """Remember when the user last logged in."""
        (await self.get(user_id)).last_login_at = at or utcnow()
        await self._session.flush()


class TeamRepository:
    """Teams and their members."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def create(self, name: str) -> TeamRow:
        """Add a team; :class:`ConflictError` if the name is taken."""
        clean = name.strip()
        if not clean:
            raise ValidationError("a team needs a name", details={"field": "name"})
        existing = await self._session.execute(select(TeamRow).where(TeamRow.name == clean))
        if existing.scalar_one_or_none() is not None:
            raise ConflictError(f"a team named {clean!r} already exists")
        row = TeamRow(name=clean)
        self._session.add(row)
        await self._session.flush()
        return row

    async def by_name(self, name: str) -> TeamRow:
        """The team called ``name``, or :class:`NotFoundError`."""
        result = await self._session.execute(select(TeamRow).where(TeamRow.name == name.strip()))
        row = result.scalar_one_or_none()
        if row is None:
            raise NotFoundError(f"no team named {name.strip()!r}")
        return row

    async def add_member(self, team_id: str, user_id: str) -> None:
        """Make ``user_id`` a member of ``team_id`` (idempotent)."""
        exists = await self._session.get(TeamMembershipRow, (team_id, user_id))
        if exists is None:
            self._session.add(TeamMembershipRow(team_id=team_id, user_id=user_id))
            await self._session.flush()

    async def remove_member(self, team_id: str, user_id: str) -> None:
        """Remove a membership (no error if absent)."""
        await self._session.execute(
            delete(TeamMembershipRow).where(
                TeamMembershipRow.team_id == team_id, TeamMembershipRow.user_id == user_id
            )
        )

    async def teams_of(self, user_id: str) -> Sequence[TeamRow]:
        """The teams ``user_id`` belongs to, by name."""
        result = await self._session.execute(
            select(TeamRow)
            .join(TeamMembershipRow, TeamMembershipRow.team_id == TeamRow.id)
            .where(TeamMembershipRow.user_id == user_id)
            .order_by(TeamRow.name)
        )
        return result.scalars().all()

    async def is_member(self, team_id: str, user_id: str) -> bool:
        """Whether ``user_id`` is a member of ``team_id``."""
        return await self._session.get(TeamMembershipRow, (team_id, user_id)) is not None


class SessionRepository:
    """Server-side login sessions, looked up by the hash of the cookie's token."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def create(self, *, token_hash: str, user_id: str, expires_at: datetime) -> None:
        """Store a new session."""
        self._session.add(UserSessionRow(id=token_hash, user_id=user_id, expires_at=expires_at))
        await self._session.flush()

    async def active_user(self, token_hash: str, now: datetime) -> UserRow | None:
        """The active user of a live session, or None (unknown, expired, revoked, disabled)."""
        result = await self._session.execute(
            select(UserRow)
            .join(UserSessionRow, UserSessionRow.user_id == UserRow.id)
            .where(
                UserSessionRow.id == token_hash,
                UserSessionRow.revoked_at.is_(None),
                UserSessionRow.expires_at > now,
                UserRow.is_active.is_(True),
            )
        )
        return result.scalar_one_or_none()

    async def revoke(self, token_hash: str, now: datetime | None = None) -> None:
        """End a session (logout)."""
        await self._session.execute(
            update(UserSessionRow)
            .where(UserSessionRow.id == token_hash)
            .values(revoked_at=now or utcnow())
        )


class ApiKeyRepository:
    """A user's own API keys."""

    def __init__(self, session: AsyncSession, user_id: str) -> None:
        self._session = session
        self._user_id = user_id

    async def create(
        self, *, name: str, prefix: str, key_hash: str, scopes: Sequence[str]
    ) -> ApiKeyRow:
        """Store a new key (its hash only)."""
        clean = name.strip()
        if not clean:
            raise ValidationError("an API key needs a name", details={"field": "name"})
        row = ApiKeyRow(
            user_id=self._user_id,
            name=clean,
            prefix=prefix,
            key_hash=key_hash,
            scopes=" ".join(sorted(set(scopes))),
        )
        self._session.add(row)
        await self._session.flush()
        return row

    async def list(self) -> Sequence[ApiKeyRow]:
        """The user's keys, newest first, revoked ones included."""
        result = await self._session.execute(
            select(ApiKeyRow)
            .where(ApiKeyRow.user_id == self._user_id)
            .order_by(ApiKeyRow.created_at.desc())
        )
        return result.scalars().all()

    async def get(self, key_id: str) -> ApiKeyRow:
        """One of the user's keys, or :class:`NotFoundError`."""
        result = await self._session.execute(
            select(ApiKeyRow).where(ApiKeyRow.id == key_id, ApiKeyRow.user_id == self._user_id)
        )
        row = result.scalar_one_or_none()
        if row is None:
            raise NotFoundError("no such API key")
        return row

    async def revoke(self, key_id: str, now: datetime | None = None) -> ApiKeyRow:
        """Revoke one of the user's keys (idempotent)."""
        row = await self.get(key_id)
        if row.revoked_at is None:
            row.revoked_at = now or utcnow()
            await self._session.flush()
        return row


async def find_api_key_by_prefix_unscoped(
    session: AsyncSession, prefix: str
) -> tuple[ApiKeyRow, UserRow] | None:
    """Authentication lookup: the key with this prefix and its (active) owner, if any."""
    result = await session.execute(
        select(ApiKeyRow, UserRow)
        .join(UserRow, UserRow.id == ApiKeyRow.user_id)
        .where(ApiKeyRow.prefix == prefix, UserRow.is_active.is_(True))
    )
    found = result.one_or_none()
    return None if found is None else (found[0], found[1])


def visible_to(
    user_id: str,
    owner_user_id: InstrumentedAttribute[str | None],
    owner_team_id: InstrumentedAttribute[str | None],
) -> ColumnElement[bool]:
    """Rows owned by ``user_id`` or by one of their teams (the owner-scoping of every store)."""
    my_teams = select(TeamMembershipRow.team_id).where(TeamMembershipRow.user_id == user_id)
    return or_(owner_user_id == user_id, owner_team_id.in_(my_teams))


class ConnectionRepository:
    """Jira connections visible to one user: their own and their teams'."""

    def __init__(self, session: AsyncSession, user_id: str) -> None:
        self._session = session
        self._user_id = user_id

    def _visible(self) -> ColumnElement[bool]:
        return visible_to(
            self._user_id, JiraConnectionRow.owner_user_id, JiraConnectionRow.owner_team_id
        )

    async def list(self) -> Sequence[JiraConnectionRow]:
        """Connections the user may see, by name."""
        result = await self._session.execute(
            select(JiraConnectionRow)
            .where(self._visible())
            .order_by(JiraConnectionRow.name, JiraConnectionRow.created_at)
        )
        return result.scalars().all()

    async def get(self, connection_id: str, *, for_update: bool = False) -> JiraConnectionRow:
        """One visible connection, or :class:`NotFoundError` (also when it is someone else's).

        ``for_update`` locks the row until the transaction ends (``SELECT ... FOR UPDATE`` on
        PostgreSQL; on SQLite the write transaction already holds the database lock) and
        re-reads it even if this session has it cached.
        """
        query = select(JiraConnectionRow).where(
            JiraConnectionRow.id == connection_id, self._visible()
        )
        if for_update:
            query = query.with_for_update().execution_options(populate_existing=True)
        result = await self._session.execute(query)
        row = result.scalar_one_or_none()
        if row is None:
            raise NotFoundError("no such Jira connection")
        return row

    async def add(self, row: JiraConnectionRow) -> JiraConnectionRow:
        """Insert a new connection owned by this user or by one of their teams."""
        if row.owner_team_id is not None:
            member = await self._session.get(TeamMembershipRow, (row.owner_team_id, self._user_id))
            if member is None:
                raise NotFoundError("no such team")
        elif row.owner_user_id != self._user_id:
            raise NotFoundError("no such user")
        if row.created_by_user_id is None:
            row.created_by_user_id = self._user_id
        self._session.add(row)
        await self._session.flush()
        return row

    async def delete(self, connection_id: str) -> JiraConnectionRow:
        """Delete a visible connection (its encrypted secrets go with it)."""
        row = await self.get(connection_id)
        await self._session.delete(row)
        await self._session.flush()
        return row

    async def count(self) -> int:
        """How many connections the user may see (for the navigation indicator)."""
        result = await self._session.execute(
            select(func.count()).select_from(JiraConnectionRow).where(self._visible())
        )
        return int(result.scalar_one())


async def get_connection_unscoped(
    session: AsyncSession, connection_id: str, *, for_update: bool = False
) -> JiraConnectionRow:
    """A connection by id whoever owns it: for workers acting on a connection they were given
    (token refresh, sync jobs), never for answering a user's request."""
    query = select(JiraConnectionRow).where(JiraConnectionRow.id == connection_id)
    if for_update:
        query = query.with_for_update().execution_options(populate_existing=True)
    row = (await session.execute(query)).scalar_one_or_none()
    if row is None:
        raise NotFoundError("no such Jira connection")
    return row


async def connections_for_rotation_unscoped(
    session: AsyncSession, *, for_update: bool = True
) -> Sequence[JiraConnectionRow]:
    """Every connection, locked, for ``jirabridge secrets rotate`` (operator-only)."""
    query = select(JiraConnectionRow).order_by(JiraConnectionRow.id)
    if for_update:
        query = query.with_for_update()
    result = await session.execute(query)
    return result.scalars().all()


class OAuthStateRepository:
    """Issued OAuth states, so each one is accepted once."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(
        self, *, nonce: str, user_id: str, session_fingerprint: str, expires_at: datetime
    ) -> None:
        """Remember an issued state."""
        self._session.add(
            OAuthStateRow(
                nonce=nonce,
                user_id=user_id,
                session_fingerprint=session_fingerprint,
                expires_at=expires_at,
            )
        )
        await self._session.flush()

    async def consume(
        self, *, nonce: str, user_id: str, session_fingerprint: str, now: datetime
    ) -> bool:
        """Mark the state used; True only for the first caller, before expiry, same user."""
        result = await self._session.execute(
            update(OAuthStateRow)
            .where(
                OAuthStateRow.nonce == nonce,
                OAuthStateRow.user_id == user_id,
                OAuthStateRow.session_fingerprint == session_fingerprint,
                OAuthStateRow.consumed_at.is_(None),
                OAuthStateRow.expires_at > now,
            )
            .values(consumed_at=now)
        )
        return int(getattr(result, "rowcount", 0) or 0) == 1

    async def purge_expired(self, now: datetime) -> int:
        """Delete states that expired; returns how many."""
        result = await self._session.execute(
            delete(OAuthStateRow).where(OAuthStateRow.expires_at <= now)
        )
        return int(getattr(result, "rowcount", 0) or 0)


class PendingGrantRepository:
    """A user's OAuth grants waiting for site selection."""

    def __init__(self, session: AsyncSession, user_id: str) -> None:
        self._session = session
        self._user_id = user_id

    async def add(self, row: OAuthPendingGrantRow) -> OAuthPendingGrantRow:
        """Store a pending grant of this user."""
        if row.user_id != self._user_id:
            raise NotFoundError("no such user")
        self._session.add(row)
        await self._session.flush()
        return row

    async def get(self, grant_id: str, now: datetime) -> OAuthPendingGrantRow:
        """A live pending grant of this user, or :class:`NotFoundError`."""
        result = await self._session.execute(
            select(OAuthPendingGrantRow).where(
                OAuthPendingGrantRow.id == grant_id,
                OAuthPendingGrantRow.user_id == self._user_id,
                OAuthPendingGrantRow.expires_at > now,
            )
        )
        row = result.scalar_one_or_none()
        if row is None:
            raise NotFoundError("no such pending OAuth grant (it may have expired)")
        return row

    async def delete(self, grant_id: str) -> None:
        """Forget a pending grant (its encrypted tokens with it)."""
        await self._session.execute(
            delete(OAuthPendingGrantRow).where(
                OAuthPendingGrantRow.id == grant_id,
                OAuthPendingGrantRow.user_id == self._user_id,
            )
        )


@dataclass(frozen=True)
class AuditPage:
    """One page of the audit log."""

    events: Sequence[AuditEventRow]
    total: int


class AuditLog:
    """Append-only record of account and connection events."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def record(
        self,
        action: str,
        *,
        target_type: str,
        target_id: str | None = None,
        actor_user_id: str | None = None,
        outcome: str = "ok",
        message: str | None = None,
        details: dict[str, Any] | None = None,
        at: datetime | None = None,
    ) -> AuditEventRow:
        """Append an event. Callers must not pass secrets in ``message`` or ``details``."""
        row = AuditEventRow(
            at=at or utcnow(),
            action=action,
            target_type=target_type,
            target_id=target_id,
            actor_user_id=actor_user_id,
            outcome=outcome,
            message=message,
            details=dict(details or {}),
        )
        self._session.add(row)
        await self._session.flush()
        return row

    async def page_unscoped(
        self,
        *,
        limit: int = 50,
        offset: int = 0,
        action_prefix: str | None = None,
        target_id: str | None = None,
    ) -> AuditPage:
        """Newest events first, every user's (admins only)."""
        conditions: list[ColumnElement[bool]] = []
        if action_prefix:
            conditions.append(AuditEventRow.action.startswith(action_prefix, autoescape=True))
        if target_id:
            conditions.append(AuditEventRow.target_id == target_id)
        total = await self._session.execute(
            select(func.count()).select_from(AuditEventRow).where(*conditions)
        )
        events = await self._session.execute(
            select(AuditEventRow)
            .where(*conditions)
            .order_by(AuditEventRow.at.desc(), AuditEventRow.id.desc())
            .limit(max(1, min(limit, 500)))
            .offset(max(0, offset))
        )
        return AuditPage(events=events.scalars().all(), total=int(total.scalar_one()))
