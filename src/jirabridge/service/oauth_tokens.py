"""``ensure_valid_token``: a usable OAuth access token for a connection, refreshed at most once.

Atlassian rotates the refresh token on every use and kills the whole grant when a replaced
refresh token is used again, so two workers refreshing at once can disconnect a tenant. The
refresh is therefore single-flight twice over:

* within a process, an ``asyncio.Lock`` per connection queues the coroutines;
* across processes, the refresh runs inside a write transaction that locks the row
  (``SELECT ... FOR UPDATE`` on PostgreSQL, ``BEGIN IMMEDIATE`` on SQLite). The row is re-read
  inside the lock; if someone else refreshed meanwhile (``token_version`` moved, or the token is
  fresh again) their token is used and nothing is sent.

The rotated tokens are written and committed before the new access token is handed out, so a
crash can at worst lose the access token, never the grant. ``invalid_grant`` marks the connection
``needs_reconnect``, records an audit event and raises
:class:`~jirabridge.errors.ReauthorizationRequired` with a message for the user.

The network call happens while the row lock is held. That is the point (nobody else may spend
the refresh token meanwhile); on SQLite it also delays other writers for the length of one
token request.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from jirabridge.errors import ReauthorizationRequired, ValidationError
from jirabridge.service.atlassian_oauth import TokenSet
from jirabridge.store.account_models import ConnectionKind, JiraConnectionRow
from jirabridge.store.accounts import AuditLog, get_connection_unscoped
from jirabridge.store.connection_secrets import ConnectionSecrets
from jirabridge.store.db import read_transaction, write_transaction

__all__ = ["REFRESH_MARGIN", "AccessToken", "OAuthTokenManager", "Refresher"]

logger = logging.getLogger(__name__)

#: Refresh when less than this is left on the access token.
REFRESH_MARGIN = timedelta(minutes=5)

#: Spends a refresh token for a new token set (``AtlassianOAuth.refresh``).
Refresher = Callable[[str], Awaitable[TokenSet]]


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class AccessToken:
    """An access token good for at least the refresh margin, and its version."""

    token: str = field(repr=False)
    expires_at: datetime
    version: int
    cloud_id: str | None


class OAuthTokenManager:
    """Hands out valid access tokens for OAuth connections. One instance per process."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        secrets: ConnectionSecrets,
        refresher: Refresher,
        *,
        clock: Callable[[], datetime] = _utcnow,
        margin: timedelta = REFRESH_MARGIN,
    ) -> None:
        self._sessions = sessions
        self._secrets = secrets
        self._refresher = refresher
        self._clock = clock
        self._margin = margin
        self._locks: dict[str, asyncio.Lock] = {}
        #: How many refreshes this process sent to the token endpoint.
        self.refresh_count = 0

    def __repr__(self) -> str:
        return f"OAuthTokenManager(margin={self._margin!r})"

    def _fresh(self, row: JiraConnectionRow) -> bool:
        return row.oauth_expires_at is not None and (
            row.oauth_expires_at - self._clock() > self._margin
        )

    def _access(self, row: JiraConnectionRow) -> AccessToken:
        tokens = self._secrets.oauth(row)
        return AccessToken(
            token=tokens.access_token,
            expires_at=tokens.expires_at,
            version=tokens.version,
            cloud_id=row.cloud_id,
        )

    @staticmethod
    def _check_usable(row: JiraConnectionRow) -> None:
        if row.kind != ConnectionKind.OAUTH:
            raise ValidationError(f"connection {row.id} is not an OAuth connection")
        if row.needs_reconnect or row.oauth_refresh_ciphertext is None:
            raise ReauthorizationRequired(
                f"the Jira connection {row.name!r} must be connected again (Settings -> "
                "Connections -> Reconnect)",
                status=401,
                details={"connection_id": row.id},
            )

    async def ensure_valid_token(
        self, connection_id: str, *, rejected_version: int | None = None
    ) -> AccessToken:
        """A valid access token for ``connection_id``.

        Refreshes when less than the margin is left. After Jira answered 401 to a token, pass
        its ``version`` as ``rejected_version``: the token is refreshed unless someone already
        replaced that version.
        """
        async with read_transaction(self._sessions) as session:
            row = await get_connection_unscoped(session, connection_id)
            self._check_usable(row)
            if self._usable(row, rejected_version):
                return self._access(row)

        lock = self._locks.setdefault(connection_id, asyncio.Lock())
        async with lock:
            return await self._refresh_locked(connection_id, rejected_version)

    def _usable(self, row: JiraConnectionRow, rejected_version: int | None) -> bool:
        if rejected_version is not None and row.token_version == rejected_version:
            return False
        return self._fresh(row)

    async def _refresh_locked(
        self, connection_id: str, rejected_version: int | None
    ) -> AccessToken:
        failure: ReauthorizationRequired | None = None
        async with write_transaction(self._sessions) as session:
            row = await get_connection_unscoped(session, connection_id, for_update=True)
            self._check_usable(row)
            if self._usable(row, rejected_version):
                return self._access(row)
            old = self._secrets.oauth(row)
            try:
                self.refresh_count += 1
                fresh = await self._refresher(old.refresh_token)
            except ReauthorizationRequired as exc:
                # Commit the flag and the audit event, then raise outside the transaction.
                row.needs_reconnect = True
                await AuditLog(session).record(
                    "connection.refresh_failed",
                    target_type="connection",
                    target_id=row.id,
                    outcome="failed",
                    message="the OAuth grant was refused (invalid_grant); reconnect needed",
                    at=self._clock(),
                )
                failure = ReauthorizationRequired(
                    f"the Jira connection {row.name!r} lost its authorization and must be "
                    "connected again (Settings -> Connections -> Reconnect)",
                    status=exc.status,
                    details={"connection_id": row.id},
                )
            else:
                self._secrets.set_oauth(
                    row,
                    access_token=fresh.access_token,
                    refresh_token=fresh.refresh_token,
                    expires_at=fresh.expires_at,
                )
                await AuditLog(session).record(
                    "connection.refreshed",
                    target_type="connection",
                    target_id=row.id,
                    details={"version": row.token_version},
                    at=self._clock(),
                )
                await session.flush()
                result = self._access(row)
        if failure is not None:
            logger.warning("OAuth grant of connection %s refused; needs reconnect", connection_id)
            raise failure
        logger.info("OAuth token of connection %s refreshed", connection_id)
        return result
