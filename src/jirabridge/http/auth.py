"""Authentication as httpx auth flows: basic (email + API token), bearer, OAuth 2.0, GitHub App.

Every class keeps its secrets out of ``repr``/``str`` and out of every exception message. The flows
that do I/O (:class:`OAuth2Auth`, :class:`GitHubAppAuth`) are async-only: the HTTP core is async.
"""

from __future__ import annotations

import asyncio
import base64
import importlib.util
import logging
from collections.abc import AsyncGenerator, Awaitable, Callable, Generator
from dataclasses import dataclass, field
from datetime import datetime

import httpx
import jwt

from jirabridge.errors import AuthenticationError, ConfigError
from jirabridge.http.clock import Clock, SystemClock

__all__ = [
    "BasicAuth",
    "BearerAuth",
    "GitHubAppAuth",
    "OAuth2Auth",
    "OAuth2Token",
    "RefreshHook",
]

logger = logging.getLogger("jirabridge.http.auth")


def _require(value: str, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{what} is missing or empty")
    return value


class _SyncUnsupported(httpx.Auth):
    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response]:
        raise ConfigError(f"{type(self).__name__} works with httpx.AsyncClient only")


class BasicAuth(httpx.Auth):
    """HTTP basic auth with an Atlassian account email and API token (Jira Cloud)."""

    def __init__(self, email: str, api_token: str) -> None:
        _require(email, "the Jira account email")
        _require(api_token, "the API token")
        raw = f"{email}:{api_token}".encode()
        self._header = "Basic " + base64.b64encode(raw).decode("ascii")
        self.email = email

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response]:
        """Add the ``Authorization`` header."""
        request.headers["Authorization"] = self._header
        yield request

    def __repr__(self) -> str:
        return f"BasicAuth(email={self.email!r}, api_token=<redacted>)"


class BearerAuth(httpx.Auth):
    """A static bearer token: a Jira Data Center personal access token or a GitHub token."""

    def __init__(self, token: str) -> None:
        self._header = "Bearer " + _require(token, "the bearer token")

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response]:
        """Add the ``Authorization`` header."""
        request.headers["Authorization"] = self._header
        yield request

    def __repr__(self) -> str:
        return "BearerAuth(token=<redacted>)"


@dataclass(frozen=True)
class OAuth2Token:
    """An OAuth 2.0 access token and when it expires (epoch seconds)."""

    access_token: str = field(repr=False)
    expires_at: float

    def __repr__(self) -> str:
        return f"OAuth2Token(access_token=<redacted>, expires_at={self.expires_at!r})"


#: Called with the token that is stale; returns a fresh one. It is where a refresh token is spent
#: (and, in the service, where the rotated refresh token is persisted). It may raise
#: :class:`~jirabridge.errors.ReauthorizationRequired` when the grant is gone.
RefreshHook = Callable[[OAuth2Token], Awaitable[OAuth2Token]]


class OAuth2Auth(_SyncUnsupported):
    """Bearer auth with an expiring OAuth 2.0 access token, refreshed through a caller's hook.

    Refreshes when less than ``refresh_margin`` seconds are left, and once when the server answers
    401 (then repeats the request once). Refreshes are single-flight per instance: however many
    requests find the token stale at once, the hook runs once and they all use its result. This
    matters for Atlassian, whose refresh tokens rotate: two concurrent refreshes would spend the
    same refresh token twice and can kill the grant.
    """

    def __init__(
        self,
        token: OAuth2Token,
        refresh: RefreshHook,
        *,
        refresh_margin: float = 300.0,
        clock: Clock | None = None,
    ) -> None:
        _require(token.access_token, "the OAuth access token")
        self._token = token
        self._refresh_hook = refresh
        self.refresh_margin = refresh_margin
        self.clock: Clock = clock if clock is not None else SystemClock()
        self._lock = asyncio.Lock()
        #: How many times the refresh hook has been called.
        self.refresh_count = 0

    @property
    def token(self) -> OAuth2Token:
        """The token currently in use."""
        return self._token

    def _stale(self, token: OAuth2Token) -> bool:
        return token.expires_at - self.clock.time() < self.refresh_margin

    async def refresh(self, stale: OAuth2Token) -> OAuth2Token:
        """Replace ``stale`` by a fresh token, unless another task already did."""
        async with self._lock:
            if self._token is not stale:
                return self._token
            fresh = await self._refresh_hook(stale)
            if not isinstance(fresh, OAuth2Token):
                raise ConfigError("the OAuth refresh hook must return an OAuth2Token")
            self._token = fresh
            self.refresh_count += 1
            logger.info("OAuth access token refreshed; expires at %.0f", fresh.expires_at)
            return fresh

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        """Send with a fresh token; on 401, refresh once and send once more."""
        token = self._token
        if self._stale(token):
            token = await self.refresh(token)
        request.headers["Authorization"] = f"Bearer {token.access_token}"
        response = yield request
        if response.status_code == 401:
            token = await self.refresh(token)
            request.headers["Authorization"] = f"Bearer {token.access_token}"
            yield request

    def __repr__(self) -> str:
        return f"OAuth2Auth(token={self._token!r})"


class GitHubAppAuth(_SyncUnsupported):
    """Authenticate as a GitHub App installation.

    Signs a short RS256 JWT with the app's private key, exchanges it for an installation access
    token (``POST /app/installations/{id}/access_tokens``), caches that token and treats it as
    expired ``expiry_margin`` seconds early. Needs ``cryptography`` (the ``github-app`` extra).
    """

    def __init__(
        self,
        app_id: int | str,
        private_key: str,
        installation_id: int | str,
        *,
        api_url: str = "https://api.github.com",
        expiry_margin: float = 60.0,
        clock: Clock | None = None,
    ) -> None:
        if importlib.util.find_spec("cryptography") is None:
            raise ConfigError(
                "GitHub App auth needs the 'cryptography' package: install jirabridge[github-app]"
            )
        _require(private_key, "the GitHub App private key")
        if not str(app_id).strip() or not str(installation_id).strip():
            raise ConfigError("the GitHub App id and installation id are required")
        self.app_id = str(app_id)
        self.installation_id = str(installation_id)
        self._private_key = private_key
        self.api_url = api_url.rstrip("/")
        self.expiry_margin = expiry_margin
        self.clock: Clock = clock if clock is not None else SystemClock()
        self._lock = asyncio.Lock()
        self._token: str | None = None
        self._valid_until = 0.0
        #: How many installation tokens have been fetched.
        self.token_fetches = 0

    def app_jwt(self) -> str:
        """A JWT identifying the app, valid for nine minutes (GitHub allows at most ten)."""
        now = int(self.clock.time())
        # iat is backdated a minute to tolerate clock drift, as GitHub recommends.
        payload = {"iat": now - 60, "exp": now + 540, "iss": self.app_id}
        try:
            return jwt.encode(payload, self._private_key, algorithm="RS256")
        except (ValueError, TypeError, jwt.PyJWTError) as exc:
            raise ConfigError(
                "the GitHub App private key is not a usable RSA private key (PEM)"
            ) from exc

    def _cached(self) -> str | None:
        if self._token is not None and self.clock.time() < self._valid_until:
            return self._token
        return None

    def _token_request(self) -> httpx.Request:
        return httpx.Request(
            "POST",
            f"{self.api_url}/app/installations/{self.installation_id}/access_tokens",
            headers={
                "Authorization": f"Bearer {self.app_jwt()}",
                "Accept": "application/vnd.github+json",
            },
        )

    def _accept(self, response: httpx.Response) -> str:
        if response.status_code != 201:
            raise AuthenticationError(
                f"GitHub refused an installation token for app {self.app_id}",
                status=response.status_code,
                method="POST",
                url=f"{self.api_url}/app/installations/{self.installation_id}/access_tokens",
            )
        try:
            data = response.json()
            token = data["token"]
            expires = datetime.fromisoformat(data["expires_at"]).timestamp()
        except (ValueError, KeyError, TypeError) as exc:
            raise AuthenticationError(
                "GitHub's installation token response is malformed",
                status=response.status_code,
            ) from exc
        self._token = str(token)
        self._valid_until = expires - self.expiry_margin
        self.token_fetches += 1
        return self._token

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        """Attach a cached installation token, fetching one first when none is valid."""
        token = self._cached()
        if token is None:
            async with self._lock:
                token = self._cached()
                if token is None:
                    response = yield self._token_request()
                    await response.aread()
                    token = self._accept(response)
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if response.status_code == 401 and self._token == token:
            self._token = None  # revoked early: fetch a new one next time

    def __repr__(self) -> str:
        return (
            f"GitHubAppAuth(app_id={self.app_id!r}, installation_id={self.installation_id!r}, "
            "private_key=<redacted>)"
        )
