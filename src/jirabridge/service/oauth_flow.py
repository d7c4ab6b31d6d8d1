"""The OAuth 3LO connect flow: start -> Atlassian consent -> callback -> (site choice) -> saved.

``start`` signs a state bound to the browser session (and remembers its nonce);
``callback`` checks it (signature, session, expiry, single use), exchanges the code, lists the
sites: one site becomes a connection at once, several wait encrypted in a pending grant until
the user picks one (``choose_site``). Connecting again to a site the user already has revives
that connection (new tokens, ``needs_reconnect`` cleared) instead of adding a duplicate.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from jirabridge.errors import ValidationError
from jirabridge.service.atlassian_oauth import AccessibleSite, AtlassianOAuth, TokenSet
from jirabridge.service.oauth_state import OAuthStateError, OAuthStateSigner, session_fingerprint
from jirabridge.store.account_models import (
    ConnectionKind,
    JiraConnectionRow,
    OAuthPendingGrantRow,
    UserRow,
    new_id,
)
from jirabridge.store.accounts import (
    AuditLog,
    ConnectionRepository,
    OAuthStateRepository,
    PendingGrantRepository,
    TeamRepository,
)
from jirabridge.store.connection_secrets import ConnectionSecrets
from jirabridge.store.db import write_transaction

__all__ = ["PENDING_GRANT_TTL", "CallbackResult", "OAuthAccessDenied", "OAuthFlow"]

PENDING_GRANT_TTL = timedelta(minutes=15)


def _utcnow() -> datetime:
    return datetime.now(UTC)


class OAuthAccessDenied(ValidationError):
    """The user declined on Atlassian's consent page (``error=access_denied``)."""

    http_status = 400
    code = "oauth-access-denied"


@dataclass(frozen=True)
class CallbackResult:
    """Either a saved ``connection`` or a ``pending_grant_id`` with ``sites`` to choose from."""

    connection: JiraConnectionRow | None = None
    pending_grant_id: str | None = None
    sites: tuple[AccessibleSite, ...] = ()


class OAuthFlow:
    """The browser side of connecting Jira Cloud through OAuth."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        secrets: ConnectionSecrets,
        oauth: AtlassianOAuth,
        signer: OAuthStateSigner,
        *,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self._sessions = sessions
        self._secrets = secrets
        self._oauth = oauth
        self._signer = signer
        self._clock = clock

    def __repr__(self) -> str:
        return f"OAuthFlow({self._oauth!r})"

    async def start(self, user: UserRow, session_token: str, *, team_id: str | None = None) -> str:
        """Remember a new state and return the Atlassian authorization URL."""
        issued = self._signer.issue(session_token, {"u": user.id, "t": team_id})
        async with write_transaction(self._sessions) as session:
            if team_id is not None and not await TeamRepository(session).is_member(
                team_id, user.id
            ):
                raise ValidationError("you are not a member of that team")
            await OAuthStateRepository(session).add(
                nonce=issued.nonce,
                user_id=user.id,
                session_fingerprint=session_fingerprint(session_token),
                expires_at=issued.expires_at,
            )
        return self._oauth.authorization_url(issued.value)

    async def callback(
        self,
        user: UserRow,
        session_token: str,
        *,
        state: str | None,
        code: str | None,
        error: str | None = None,
    ) -> CallbackResult:
        """Handle Atlassian's redirect back. Raises :class:`OAuthStateError` for a bad,
        expired, replayed or foreign state and :class:`OAuthAccessDenied` when declined."""
        if not state:
            raise OAuthStateError("the OAuth callback carried no state")
        verified = self._signer.verify(state, session_token)
        if verified.data.get("u") != user.id:
            raise OAuthStateError("the OAuth state belongs to another user")
        now = self._clock()
        async with write_transaction(self._sessions) as session:
            fresh = await OAuthStateRepository(session).consume(
                nonce=verified.nonce,
                user_id=user.id,
                session_fingerprint=session_fingerprint(session_token),
                now=now,
            )
            if not fresh:
                raise OAuthStateError(
                    "this OAuth answer was already used or has expired; start the connection again"
                )
            if error:
                await AuditLog(session).record(
                    "connection.oauth_denied",
                    target_type="connection",
                    actor_user_id=user.id,
                    outcome="failed",
                    message=f"Atlassian answered {error}",
                    at=now,
                )
        if error:
            if error == "access_denied":
                raise OAuthAccessDenied(
                    "you declined access on Atlassian's page, so nothing was connected"
                )
            raise OAuthAccessDenied(f"Atlassian did not grant access ({error})")
        if not code:
            raise ValidationError("the OAuth callback carried no code")
        tokens = await self._oauth.exchange_code(code)
        sites = tuple(await self._oauth.accessible_resources(tokens.access_token))
        team_id = verified.data.get("t")
        team = str(team_id) if team_id else None
        if not sites:
            raise ValidationError("this Atlassian account has no Jira site the app may use")
        if len(sites) == 1:
            row = await self._save(user, team, tokens, sites[0])
            return CallbackResult(connection=row)
        grant_id = new_id()
        async with write_transaction(self._sessions) as session:
            pending = OAuthPendingGrantRow(
                id=grant_id,
                user_id=user.id,
                owner_team_id=team,
                token_ciphertext="",
                sites=[site.as_dict() for site in sites],
                expires_at=self._clock() + PENDING_GRANT_TTL,
            )
            self._secrets.seal_pending(pending, _dump_tokens(tokens))
            await PendingGrantRepository(session, user.id).add(pending)
        return CallbackResult(pending_grant_id=grant_id, sites=sites)

    async def pending_sites(self, user: UserRow, grant_id: str) -> tuple[AccessibleSite, ...]:
        """The sites a pending grant offers (NotFoundError if not the user's or expired)."""
        async with write_transaction(self._sessions) as session:
            row = await PendingGrantRepository(session, user.id).get(grant_id, self._clock())
            return tuple(AccessibleSite.from_dict(item) for item in row.sites)

    async def choose_site(self, user: UserRow, grant_id: str, cloud_id: str) -> JiraConnectionRow:
        """Turn a pending grant into a connection to the chosen site."""
        async with write_transaction(self._sessions) as session:
            repo = PendingGrantRepository(session, user.id)
            pending = await repo.get(grant_id, self._clock())
            sites = [AccessibleSite.from_dict(item) for item in pending.sites]
            site = next((s for s in sites if s.id == cloud_id), None)
            if site is None:
                raise ValidationError("choose one of the sites offered")
            tokens = _load_tokens(self._secrets.open_pending(pending))
            team = pending.owner_team_id
            await repo.delete(grant_id)
        return await self._save(user, team, tokens, site)

    async def _save(
        self, user: UserRow, team_id: str | None, tokens: TokenSet, site: AccessibleSite
    ) -> JiraConnectionRow:
        async with write_transaction(self._sessions) as session:
            repo = ConnectionRepository(session, user.id)
            existing = (
                await session.execute(
                    select(JiraConnectionRow.id).where(
                        JiraConnectionRow.kind == ConnectionKind.OAUTH.value,
                        JiraConnectionRow.cloud_id == site.id,
                        JiraConnectionRow.owner_user_id == (None if team_id else user.id),
                        JiraConnectionRow.owner_team_id == team_id,
                    )
                )
            ).scalar_one_or_none()
            if existing is not None:
                row = await repo.get(existing, for_update=True)
                action = "connection.reconnected"
            else:
                row = JiraConnectionRow(
                    id=new_id(),
                    owner_user_id=None if team_id else user.id,
                    owner_team_id=team_id,
                    name=site.name,
                    kind=ConnectionKind.OAUTH.value,
                    base_url=site.url,
                    cloud_id=site.id,
                )
                action = "connection.created"
            row.site_name = site.name
            row.deployment_type = "Cloud"
            row.oauth_scopes = tokens.scope or " ".join(site.scopes)
            row.is_active = True
            row.needs_reconnect = False
            self._secrets.set_oauth(
                row,
                access_token=tokens.access_token,
                refresh_token=tokens.refresh_token,
                expires_at=tokens.expires_at,
            )
            if existing is None:
                await repo.add(row)
            await AuditLog(session).record(
                action,
                target_type="connection",
                target_id=row.id,
                actor_user_id=user.id,
                details={"kind": "oauth", "cloud_id": site.id, "site": site.url},
                at=self._clock(),
            )
        return row


def _dump_tokens(tokens: TokenSet) -> str:
    return json.dumps(
        {
            "a": tokens.access_token,
            "r": tokens.refresh_token,
            "e": tokens.expires_at.isoformat(),
            "s": tokens.scope,
        }
    )


def _load_tokens(payload: str) -> TokenSet:
    data = json.loads(payload)
    return TokenSet(
        access_token=data["a"],
        refresh_token=data["r"],
        expires_at=datetime.fromisoformat(data["e"]),
        scope=data.get("s", ""),
    )
