"""Local accounts: users, login sessions and API keys, with their audit events.

Login sessions are server-side: the cookie carries a random token, the database its SHA-256,
so logging out (or disabling a user) ends the session at once. The CSRF token of a session is
derived from the session token with the server secret (HMAC), so it needs no storage and dies
with the session.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from jirabridge.errors import ConflictError, PermissionDeniedError, ValidationError
from jirabridge.service.api_keys import (
    ApiKeyScope,
    generate_api_key,
    parse_api_key,
    parse_scopes,
    verify_api_key,
)
from jirabridge.service.passwords import PasswordHasher
from jirabridge.store.account_models import ApiKeyRow, UserRole, UserRow
from jirabridge.store.accounts import (
    ApiKeyRepository,
    AuditLog,
    SessionRepository,
    UserRepository,
    find_api_key_by_prefix_unscoped,
)
from jirabridge.store.db import read_transaction, write_transaction

__all__ = ["DEFAULT_SESSION_TTL", "AccountService", "ApiPrincipal", "CreatedApiKey"]

DEFAULT_SESSION_TTL = timedelta(days=7)


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class CreatedApiKey:
    """A new key: ``plaintext`` is shown once and never stored."""

    row: ApiKeyRow
    plaintext: str

    def __repr__(self) -> str:
        return f"CreatedApiKey(id={self.row.id!r}, prefix={self.row.prefix!r})"


@dataclass(frozen=True)
class ApiPrincipal:
    """Who an API request acts as, and with which scopes."""

    user: UserRow
    scopes: frozenset[ApiKeyScope]
    api_key_id: str | None = None


class AccountService:
    """Users, sessions and API keys."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        hasher: PasswordHasher,
        *,
        secret_key: str,
        clock: Callable[[], datetime] = _utcnow,
        session_ttl: timedelta = DEFAULT_SESSION_TTL,
    ) -> None:
        self._sessions = sessions
        self._hasher = hasher
        self._secret = secret_key.encode("utf-8")
        self._clock = clock
        self._session_ttl = session_ttl
        # Verified against when the e-mail is unknown, so both paths cost one argon2 verify.
        self._dummy_hash = hasher.hash(secrets.token_urlsafe(16))

    def __repr__(self) -> str:
        return "AccountService()"

    async def create_user(
        self,
        *,
        email: str,
        password: str,
        role: UserRole = UserRole.MEMBER,
        display_name: str = "",
        actor_user_id: str | None = None,
    ) -> UserRow:
        """Add a local account; :class:`ConflictError` if the e-mail is taken."""
        password_hash = self._hasher.hash(password)
        async with write_transaction(self._sessions) as session:
            user = await UserRepository(session).create(
                email=email, password_hash=password_hash, role=role, display_name=display_name
            )
            await AuditLog(session).record(
                "user.created",
                target_type="user",
                target_id=user.id,
                actor_user_id=actor_user_id,
                details={"role": role.value},
                at=self._clock(),
            )
        return user

    async def ensure_admin(self, *, email: str, password: str) -> tuple[UserRow, bool]:
        """Create the admin ``email`` unless it exists; returns (user, created)."""
        try:
            return await self.create_user(email=email, password=password, role=UserRole.ADMIN), True
        except ConflictError:
            async with read_transaction(self._sessions) as session:
                existing = await UserRepository(session).by_email(email)
            if existing is None:  # pragma: no cover - raced with a delete
                raise
            return existing, False

    async def get_user(self, user_id: str) -> UserRow:
        """A user by id."""
        async with read_transaction(self._sessions) as session:
            return await UserRepository(session).get(user_id)

    async def authenticate(self, email: str, password: str) -> UserRow | None:
        """The active user with these credentials, or None. Failures are audited."""
        async with read_transaction(self._sessions) as session:
            user = await UserRepository(session).by_email(email)
        stored = user.password_hash if user is not None and user.password_hash else None
        ok = self._hasher.verify(stored or self._dummy_hash, password) and stored is not None
        async with write_transaction(self._sessions) as session:
            if user is None or not ok or not user.is_active:
                await AuditLog(session).record(
                    "user.login_failed",
                    target_type="user",
                    target_id=user.id if user else None,
                    outcome="failed",
                    at=self._clock(),
                )
                return None
            repo = UserRepository(session)
            if stored is not None and self._hasher.needs_rehash(stored):
                await repo.set_password_hash(user.id, self._hasher.hash(password))
            await repo.record_login(user.id, self._clock())
            await AuditLog(session).record(
                "user.login",
                target_type="user",
                target_id=user.id,
                actor_user_id=user.id,
                at=self._clock(),
            )
        return user

    async def start_session(self, user: UserRow) -> str:
        """Open a login session; returns the token for the cookie."""
        token = secrets.token_urlsafe(32)
        async with write_transaction(self._sessions) as session:
            await SessionRepository(session).create(
                token_hash=_token_hash(token),
                user_id=user.id,
                expires_at=self._clock() + self._session_ttl,
            )
        return token

    async def user_for_session(self, token: str) -> UserRow | None:
        """The user of a live session token, or None."""
        if not token:
            return None
        async with read_transaction(self._sessions) as session:
            return await SessionRepository(session).active_user(_token_hash(token), self._clock())

    async def end_session(self, token: str) -> None:
        """Log out: the session token stops working."""
        async with write_transaction(self._sessions) as session:
            await SessionRepository(session).revoke(_token_hash(token), self._clock())

    def csrf_token(self, session_token: str) -> str:
        """The CSRF token that goes with a session (HMAC of the session token)."""
        return hmac.new(self._secret, b"csrf:" + session_token.encode(), "sha256").hexdigest()

    def check_csrf(self, session_token: str, presented: str | None) -> bool:
        """Constant-time check of a presented CSRF token."""
        return bool(presented) and hmac.compare_digest(
            self.csrf_token(session_token), str(presented)
        )

    async def create_api_key(
        self, user: UserRow, *, name: str, scopes: Collection[str]
    ) -> CreatedApiKey:
        """Make a key for ``user``; an admin-scoped key needs an admin user."""
        parsed = parse_scopes(scopes)
        if ApiKeyScope.ADMIN in parsed and user.role != UserRole.ADMIN:
            raise PermissionDeniedError("the admin scope is for administrators only")
        key = generate_api_key()
        async with write_transaction(self._sessions) as session:
            row = await ApiKeyRepository(session, user.id).create(
                name=name,
                prefix=key.prefix,
                key_hash=key.key_hash,
                scopes=[s.value for s in parsed],
            )
            await AuditLog(session).record(
                "api_key.created",
                target_type="api_key",
                target_id=row.id,
                actor_user_id=user.id,
                details={"prefix": row.prefix, "scopes": row.scopes},
                at=self._clock(),
            )
        return CreatedApiKey(row=row, plaintext=key.plaintext)

    async def list_api_keys(self, user_id: str) -> list[ApiKeyRow]:
        """The user's keys."""
        async with read_transaction(self._sessions) as session:
            return list(await ApiKeyRepository(session, user_id).list())

    async def revoke_api_key(self, user_id: str, key_id: str) -> ApiKeyRow:
        """Revoke one of the user's keys."""
        async with write_transaction(self._sessions) as session:
            row = await ApiKeyRepository(session, user_id).revoke(key_id, self._clock())
            await AuditLog(session).record(
                "api_key.revoked",
                target_type="api_key",
                target_id=row.id,
                actor_user_id=user_id,
                at=self._clock(),
            )
        return row

    async def authenticate_api_key(self, presented: str) -> ApiPrincipal | None:
        """The principal of a valid, unrevoked key (and record its use), or None."""
        try:
            prefix = parse_api_key(presented)
        except ValidationError:
            return None
        now = self._clock()
        async with write_transaction(self._sessions) as session:
            found = await find_api_key_by_prefix_unscoped(session, prefix)
            if found is None:
                return None
            row, user = found
            if not verify_api_key(presented, row.key_hash):
                return None
            if row.revoked_at is not None or (row.expires_at is not None and row.expires_at <= now):
                return None
            row.last_used_at = now
        return ApiPrincipal(user=user, scopes=parse_scopes(row.scopes.split()), api_key_id=row.id)
