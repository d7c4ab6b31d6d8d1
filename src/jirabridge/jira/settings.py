"""Jira connection settings, including from the environment (``JIRA_*`` variables).

Credentials live in :class:`JiraSettings` as plain strings but never reach its ``repr``, logs or
error messages.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

import httpx

from jirabridge.errors import ConfigError
from jirabridge.http import BasicAuth, BearerAuth

__all__ = ["AuthKind", "JiraSettings", "oauth_base_url"]

OAUTH_API_BASE = "https://api.atlassian.com/ex/jira"


def oauth_base_url(cloud_id: str) -> str:
    """The REST base for OAuth 2.0 (3LO) and scoped tokens: ``api.atlassian.com/ex/jira/{id}``."""
    cloud_id = cloud_id.strip()
    if not cloud_id or "/" in cloud_id:
        raise ConfigError("a Jira cloud id is a bare identifier (from accessible-resources)")
    return f"{OAUTH_API_BASE}/{cloud_id}"


class AuthKind(StrEnum):
    """How the client authenticates."""

    BASIC = "basic"  # Cloud email + API token, or Data Center username + password
    PAT = "pat"  # Data Center personal access token (bearer)
    OAUTH = "oauth"  # OAuth 2.0 (3LO) bearer access token


@dataclass(frozen=True)
class JiraSettings:
    """Everything needed to reach one Jira site."""

    url: str
    auth_kind: AuthKind
    username: str | None = field(default=None, repr=True)
    secret: str = field(default="", repr=False)
    #: 2 or 3 to force a REST version; None picks by deployment (v3 Cloud, v2 DC).
    api_version: int | None = None
    timeout: float = 30.0
    #: Requests per second the governor may spend on this site (``JIRA_RATE_LIMIT_RPS``).
    rate_limit_rps: float | None = None
    #: Retries on idempotent requests (``JIRA_MAX_RETRIES``).
    max_retries: int | None = None

    def __post_init__(self) -> None:
        if not self.url.startswith(("https://", "http://")):
            raise ConfigError("JIRA_URL must be an http(s) URL")
        if self.auth_kind == AuthKind.BASIC and not self.username:
            raise ConfigError("basic auth needs a username (JIRA_USERNAME or JIRA_EMAIL)")
        if not self.secret:
            raise ConfigError("a Jira token or password is missing")

    def auth(self) -> httpx.Auth:
        """The httpx auth for these settings."""
        if self.auth_kind == AuthKind.BASIC:
            return BasicAuth(self.username or "", self.secret)
        return BearerAuth(self.secret)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> JiraSettings:
        """Read ``JIRA_URL``, ``JIRA_EMAIL``/``JIRA_USERNAME`` + ``JIRA_TOKEN``, or ``JIRA_PAT``;
        optional ``JIRA_API_VERSION``, ``JIRA_TIMEOUT``, ``JIRA_RATE_LIMIT_RPS``,
        ``JIRA_MAX_RETRIES``. Raises :class:`ConfigError` naming every missing variable."""
        source = os.environ if env is None else env

        def get(name: str) -> str | None:
            value = source.get(name, "").strip()
            return value or None

        url = get("JIRA_URL")
        username = get("JIRA_EMAIL") or get("JIRA_USERNAME")
        token = get("JIRA_TOKEN")
        pat = get("JIRA_PAT")
        missing: list[str] = []
        if url is None:
            missing.append("JIRA_URL")
        if pat is None:
            if token is None:
                missing.append("JIRA_TOKEN (or JIRA_PAT for a Data Center personal access token)")
            if username is None:
                missing.append("JIRA_EMAIL or JIRA_USERNAME")
        if missing:
            raise ConfigError(
                "Jira is not configured; missing: " + ", ".join(missing),
                details={"missing": missing},
            )
        assert url is not None
        kind = AuthKind.PAT if pat is not None else AuthKind.BASIC
        return cls(
            url=url.rstrip("/"),
            auth_kind=kind,
            username=None if kind == AuthKind.PAT else username,
            secret=pat if pat is not None else token or "",
            api_version=_int(get("JIRA_API_VERSION"), "JIRA_API_VERSION"),
            timeout=_float(get("JIRA_TIMEOUT"), "JIRA_TIMEOUT") or 30.0,
            rate_limit_rps=_float(get("JIRA_RATE_LIMIT_RPS"), "JIRA_RATE_LIMIT_RPS"),
            max_retries=_int(get("JIRA_MAX_RETRIES"), "JIRA_MAX_RETRIES"),
        )


def _int(value: str | None, name: str) -> int | None:
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number") from None


def _float(value: str | None, name: str) -> float | None:
    if value is None:
        return None
    try:
        number = float(value)
    except ValueError:
        raise ConfigError(f"{name} must be a number") from None
    if number <= 0:
        raise ConfigError(f"{name} must be positive")
    return number
