"""The Atlassian side of OAuth 2.0 (3LO): authorization URL, code exchange, refresh, sites.

The protocol mechanics come from authlib's ``AsyncOAuth2Client``; this module adds what
Atlassian needs on top (``audience=api.atlassian.com``, ``prompt=consent``, ``offline_access``
among the scopes) and turns every failure into the one exception tree: ``invalid_grant`` (or
a 401/403 from the token endpoint: Atlassian answers 403 for a dead refresh token) becomes
:class:`~jirabridge.errors.ReauthorizationRequired`.

It keeps no state: persisting rotated tokens is :mod:`jirabridge.service.oauth_tokens`' job.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import authlib.deprecate
import httpx

from jirabridge.errors import (
    ApiError,
    ConfigError,
    ConnectionFailedError,
    ReauthorizationRequired,
    ServerError,
    TimeoutError_,
)

with warnings.catch_warnings():
    # authlib prefers the httpx2 fork and warns when it falls back to httpx, which we pin.
    # Its own "always" filter is installed by authlib.deprecate, so ours must come after it.
    warnings.filterwarnings("ignore", category=authlib.deprecate.AuthlibDeprecationWarning)
    from authlib.integrations.httpx_client import AsyncOAuth2Client, OAuthError

__all__ = [
    "DEFAULT_SCOPES",
    "AccessibleSite",
    "AtlassianOAuth",
    "OAuthAppConfig",
    "TokenSet",
]

#: Enough for the service's features; ``offline_access`` is what yields a refresh token.
DEFAULT_SCOPES: tuple[str, ...] = (
    "read:jira-work",
    "write:jira-work",
    "read:jira-user",
    "manage:jira-webhook",
    "offline_access",
)

_REAUTH_ERRORS = frozenset({"invalid_grant", "unauthorized_client", "access_denied"})


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class OAuthAppConfig:
    """Our registered OAuth app and the Atlassian endpoints (overridable for the simulator)."""

    client_id: str
    client_secret: str = field(repr=False)
    redirect_uri: str
    authorize_url: str = "https://auth.atlassian.com/authorize"
    token_url: str = "https://auth.atlassian.com/oauth/token"  # noqa: S105 - a URL
    api_base: str = "https://api.atlassian.com"
    scopes: tuple[str, ...] = DEFAULT_SCOPES

    def __post_init__(self) -> None:
        if not self.client_id or not self.client_secret:
            raise ConfigError(
                "OAuth is not configured: set JIRABRIDGE_OAUTH_CLIENT_ID and "
                "JIRABRIDGE_OAUTH_CLIENT_SECRET"
            )
        if "offline_access" not in self.scopes:
            raise ConfigError("the OAuth scopes must include offline_access (refresh tokens)")

    @property
    def resources_url(self) -> str:
        """``/oauth/token/accessible-resources`` on the API gateway."""
        return f"{self.api_base.rstrip('/')}/oauth/token/accessible-resources"

    def site_api_base(self, cloud_id: str) -> str:
        """The REST base of one site through the gateway: ``.../ex/jira/{cloudId}``."""
        return f"{self.api_base.rstrip('/')}/ex/jira/{cloud_id}"


@dataclass(frozen=True)
class TokenSet:
    """An access token, its rotating refresh token and when the access token expires."""

    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)
    expires_at: datetime
    scope: str = ""


@dataclass(frozen=True)
class AccessibleSite:
    """One Jira site the grant reaches (from accessible-resources)."""

    id: str
    name: str
    url: str
    scopes: tuple[str, ...] = ()
    avatar_url: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly form, for storing a pending grant's choices."""
        return {
            "id": self.id,
            "name": self.name,
            "url": self.url,
            "scopes": list(self.scopes),
            "avatarUrl": self.avatar_url,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AccessibleSite:
        """Parse one entry of accessible-resources (or :meth:`as_dict`)."""
        try:
            return cls(
                id=str(data["id"]),
                name=str(data.get("name") or data["url"]),
                url=str(data["url"]),
                scopes=tuple(str(s) for s in data.get("scopes") or ()),
                avatar_url=data.get("avatarUrl"),
            )
        except (KeyError, TypeError) as exc:
            raise ApiError(
                "accessible-resources returned an entry without id or url", status=200
            ) from exc


class AtlassianOAuth:
    """Talks to Atlassian's authorization server for one OAuth app.

    ``transport`` lets tests route to the simulator or a mock; ``clock`` turns ``expires_in``
    into an absolute time.
    """

    def __init__(
        self,
        config: OAuthAppConfig,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], datetime] = _utcnow,
        timeout: float = 20.0,
    ) -> None:
        self.config = config
        self._transport = transport
        self._clock = clock
        self._timeout = timeout

    def __repr__(self) -> str:
        return f"AtlassianOAuth(client_id={self.config.client_id!r})"

    def _client(self) -> AsyncOAuth2Client:
        kwargs: dict[str, Any] = {"timeout": self._timeout}
        if self._transport is not None:
            kwargs["transport"] = self._transport
        return AsyncOAuth2Client(
            client_id=self.config.client_id,
            client_secret=self.config.client_secret,
            token_endpoint_auth_method="client_secret_post",  # noqa: S106 - a method name
            redirect_uri=self.config.redirect_uri,
            **kwargs,
        )

    def authorization_url(self, state: str) -> str:
        """The URL to send the browser to, with Atlassian's required parameters."""
        client = AsyncOAuth2Client(
            client_id=self.config.client_id, redirect_uri=self.config.redirect_uri
        )
        url, _ = client.create_authorization_url(
            self.config.authorize_url,
            state=state,
            scope=" ".join(self.config.scopes),
            audience="api.atlassian.com",
            prompt="consent",
        )
        return str(url)

    async def exchange_code(self, code: str) -> TokenSet:
        """Trade the callback's ``code`` for tokens."""
        if not code:
            raise ReauthorizationRequired(
                "the OAuth callback carried no authorization code", status=400
            )
        async with self._client() as client:
            raw = await self._call(
                "code exchange",
                client.fetch_token(
                    self.config.token_url, grant_type="authorization_code", code=code
                ),
            )
        return self._token_set(raw, previous_refresh=None)

    async def refresh(self, refresh_token: str) -> TokenSet:
        """Spend ``refresh_token`` for a new token set. The old refresh token is dead after."""
        async with self._client() as client:
            raw = await self._call(
                "token refresh",
                client.refresh_token(self.config.token_url, refresh_token=refresh_token),
            )
        return self._token_set(raw, previous_refresh=refresh_token)

    async def accessible_resources(self, access_token: str) -> list[AccessibleSite]:
        """The Jira sites this grant reaches. Order carries no meaning."""
        kwargs: dict[str, Any] = {"timeout": self._timeout}
        if self._transport is not None:
            kwargs["transport"] = self._transport
        async with httpx.AsyncClient(**kwargs) as client:
            try:
                response = await client.get(
                    self.config.resources_url,
                    headers={
                        "Authorization": f"Bearer {access_token}",
                        "Accept": "application/json",
                    },
                )
            except httpx.TimeoutException as exc:
                raise TimeoutError_("accessible-resources timed out", method="GET") from exc
            except httpx.TransportError as exc:
                raise ConnectionFailedError(
                    "accessible-resources could not be reached", method="GET"
                ) from exc
        if response.status_code in (401, 403):
            raise ReauthorizationRequired(
                "Atlassian refused the new access token when listing sites",
                status=response.status_code,
                method="GET",
                url=self.config.resources_url,
            )
        if response.status_code >= 400:
            raise ServerError(
                f"accessible-resources answered HTTP {response.status_code}",
                status=response.status_code,
                method="GET",
                url=self.config.resources_url,
            )
        data = response.json()
        if not isinstance(data, list):
            raise ApiError("accessible-resources did not return a list", status=200)
        return [AccessibleSite.from_dict(item) for item in data if isinstance(item, dict)]

    async def _call(self, what: str, pending: Any) -> dict[str, Any]:
        try:
            raw = await pending
        except OAuthError as exc:
            error = str(getattr(exc, "error", "") or "")
            if error in _REAUTH_ERRORS:
                raise ReauthorizationRequired(
                    f"Atlassian refused the {what} ({error}): the connection must be "
                    "authorized again",
                    status=403,
                    method="POST",
                    url=self.config.token_url,
                    details={"error": error},
                ) from None
            raise ApiError(
                f"Atlassian refused the {what} ({error or 'unknown error'})",
                status=400,
                method="POST",
                url=self.config.token_url,
                details={"error": error},
            ) from None
        except httpx.HTTPStatusError as exc:
            status = exc.response.status_code
            if status in (401, 403):
                raise ReauthorizationRequired(
                    f"Atlassian refused the {what} (HTTP {status}): the connection must be "
                    "authorized again",
                    status=status,
                    method="POST",
                    url=self.config.token_url,
                ) from None
            raise ServerError(
                f"the Atlassian token endpoint answered HTTP {status} to the {what}",
                status=status,
                method="POST",
                url=self.config.token_url,
            ) from None
        except httpx.TimeoutException:
            raise TimeoutError_(f"the {what} timed out", method="POST") from None
        except httpx.TransportError:
            raise ConnectionFailedError(
                f"the Atlassian token endpoint could not be reached for the {what}",
                method="POST",
            ) from None
        except ValueError:
            raise ApiError(
                f"the Atlassian token endpoint returned no JSON object to the {what}", status=502
            ) from None
        return dict(raw)

    def _token_set(self, raw: dict[str, Any], *, previous_refresh: str | None) -> TokenSet:
        access = raw.get("access_token")
        refresh = raw.get("refresh_token") or previous_refresh
        if not isinstance(access, str) or not access:
            raise ApiError("the token endpoint returned no access_token", status=502)
        if not isinstance(refresh, str) or not refresh:
            raise ApiError(
                "the token endpoint returned no refresh_token; is offline_access among the "
                "app's scopes?",
                status=502,
            )
        try:
            expires_in = float(raw.get("expires_in", 3600))
        except (TypeError, ValueError):
            expires_in = 3600.0
        return TokenSet(
            access_token=access,
            refresh_token=refresh,
            expires_at=self._clock() + timedelta(seconds=expires_in),
            scope=str(raw.get("scope", "")),
        )
