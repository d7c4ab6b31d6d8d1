"""Building a :class:`~jirabridge.jira.JiraClient` for a stored connection.

Token, PAT and basic connections get their decrypted secret; OAuth connections get the HTTP
core's ``OAuth2Auth`` whose refresh hook is :meth:`OAuthTokenManager.ensure_valid_token`, so a
refresh triggered by expiry or by a 401 goes through the single-flight, persisted path.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx

from jirabridge.errors import ConfigError, ValidationError
from jirabridge.http.auth import OAuth2Auth, OAuth2Token
from jirabridge.http.clock import SystemClock
from jirabridge.http.governor_store import GovernorStore
from jirabridge.jira.client import JiraClient
from jirabridge.service.oauth_tokens import REFRESH_MARGIN, OAuthTokenManager
from jirabridge.store.account_models import ConnectionKind, JiraConnectionRow
from jirabridge.store.connection_secrets import ConnectionSecrets

__all__ = ["ClientFactory", "JiraClientFactory", "PlainCredentials"]


def _utcnow() -> datetime:
    return datetime.now(UTC)


class _DatetimeClock(SystemClock):
    """The HTTP core's clock reading wall time from the service's (injectable) clock, so the
    auth flow and the token manager agree on when a token expires."""

    def __init__(self, now: Callable[[], datetime]) -> None:
        self._now = now

    def time(self) -> float:
        return self._now().timestamp()


@dataclass(frozen=True)
class PlainCredentials:
    """What a not-yet-saved token/PAT/basic connection needs to be tested."""

    kind: ConnectionKind
    base_url: str
    email: str | None
    secret: str

    def __repr__(self) -> str:
        return f"PlainCredentials(kind={self.kind!r}, base_url={self.base_url!r})"


#: Builds a client from plain credentials (used by the "test before save" step).
ClientFactory = Callable[[PlainCredentials], JiraClient]


class JiraClientFactory:
    """Makes Jira clients for connections; ``transport`` routes them in tests."""

    def __init__(
        self,
        secrets: ConnectionSecrets,
        tokens: OAuthTokenManager | None = None,
        *,
        oauth_api_base: str = "https://api.atlassian.com",
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = 20.0,
        clock: Callable[[], datetime] = _utcnow,
        governor_store: GovernorStore | None = None,
    ) -> None:
        self._clock = clock
        # Every client of a site paces against one budget; a shared store (Redis, PostgreSQL)
        # extends that budget across the processes of a scale-out deployment.
        self._governor_store = governor_store
        self._secrets = secrets
        self._tokens = tokens
        self._oauth_api_base = oauth_api_base.rstrip("/")
        self._transport = transport
        self._timeout = timeout

    def __repr__(self) -> str:
        return f"JiraClientFactory(oauth_api_base={self._oauth_api_base!r})"

    def for_credentials(self, creds: PlainCredentials) -> JiraClient:
        """A client for credentials that are not stored yet."""
        if creds.kind == ConnectionKind.CLOUD_TOKEN:
            if not creds.email:
                raise ValidationError("a Cloud API token connection needs the account e-mail")
            return JiraClient.cloud(
                creds.base_url,
                email=creds.email,
                api_token=creds.secret,
                transport=self._transport,
                timeout=self._timeout,
                governor_store=self._governor_store,
            )
        if creds.kind == ConnectionKind.DC_PAT:
            return JiraClient.datacenter_pat(
                creds.base_url,
                token=creds.secret,
                transport=self._transport,
                timeout=self._timeout,
                governor_store=self._governor_store,
            )
        if creds.kind == ConnectionKind.DC_BASIC:
            if not creds.email:
                raise ValidationError("a Data Center basic connection needs the user name")
            return JiraClient.datacenter_basic(
                creds.base_url,
                username=creds.email,
                password=creds.secret,
                transport=self._transport,
                timeout=self._timeout,
                governor_store=self._governor_store,
            )
        raise ValidationError("OAuth connections are made through the OAuth connect flow")

    async def for_connection(self, row: JiraConnectionRow) -> JiraClient:
        """A client for a stored connection (decrypts its secret; OAuth refreshes as needed)."""
        if row.kind != ConnectionKind.OAUTH:
            return self.for_credentials(
                PlainCredentials(
                    kind=ConnectionKind(row.kind),
                    base_url=row.base_url,
                    email=row.email,
                    secret=self._secrets.secret(row),
                )
            )
        if self._tokens is None:
            raise ConfigError("OAuth is not configured on this server")
        if not row.cloud_id:
            raise ValidationError(f"OAuth connection {row.id} has no site (cloud id) chosen")
        tokens = self._tokens
        connection_id = row.id
        current = await tokens.ensure_valid_token(connection_id)
        versions = {current.token: current.version}

        margin = REFRESH_MARGIN.total_seconds()
        clock = _DatetimeClock(self._clock)

        async def refresh(stale: OAuth2Token) -> OAuth2Token:
            # The auth flow calls this when the token is about to expire or after a 401. Only
            # the 401 case (token not near expiry) must force a refresh of that very version.
            expiring = stale.expires_at - clock.time() < margin
            rejected = None if expiring else versions.get(stale.access_token)
            fresh = await tokens.ensure_valid_token(connection_id, rejected_version=rejected)
            versions[fresh.token] = fresh.version
            return OAuth2Token(fresh.token, fresh.expires_at.timestamp())

        auth = OAuth2Auth(
            OAuth2Token(current.token, current.expires_at.timestamp()),
            refresh,
            refresh_margin=margin,
            clock=clock,
        )
        return JiraClient.oauth(
            row.cloud_id,
            auth=auth,
            base_url=f"{self._oauth_api_base}/ex/jira/{row.cloud_id}",
            transport=self._transport,
            timeout=self._timeout,
            governor_store=self._governor_store,
        )
