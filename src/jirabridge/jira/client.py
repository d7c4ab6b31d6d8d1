"""``JiraClient``: the async Jira client (Cloud and Server/Data Center).

Construction picks the auth and base URL; the operations come from the mixins, one module per
group (issues, creation, search, worklogs, agile, webhooks, metadata).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import TracebackType
from typing import Self, TypedDict, Unpack

import httpx

from jirabridge.errors import ValidationError
from jirabridge.http import (
    BasicAuth,
    BearerAuth,
    Clock,
    GovernorLimits,
    GovernorStore,
    HttpClient,
    Rate,
    RetryPolicy,
)
from jirabridge.jira.agile import AgileMixin
from jirabridge.jira.connection import ConnectionCheck, ConnectionVerdict, verdict_for_error
from jirabridge.jira.core import Sleep
from jirabridge.jira.creation import CreationMixin
from jirabridge.jira.metadata import MetadataMixin
from jirabridge.jira.models import DeploymentType
from jirabridge.jira.settings import AuthKind, JiraSettings, oauth_base_url
from jirabridge.jira.webhook_registry import WebhookRegistryMixin
from jirabridge.jira.worklogs import WorklogsMixin

__all__ = ["ClientOptions", "JiraClient"]


class ClientOptions(TypedDict, total=False):
    """Keyword options every named constructor passes on to :class:`JiraClient`."""

    api_version: int | None
    deployment: DeploymentType | None
    transport: httpx.AsyncBaseTransport | None
    timeout: float | httpx.Timeout | None
    headers: Mapping[str, str] | None
    http: HttpClient | None
    sleep: Sleep | None
    clock: Clock | None
    retry: RetryPolicy | None
    limits: GovernorLimits | None
    governor_store: GovernorStore | None


class JiraClient(
    CreationMixin,
    WorklogsMixin,
    AgileMixin,
    WebhookRegistryMixin,
    MetadataMixin,
):
    """An async Jira client for one site.

    Prefer a named constructor: :meth:`cloud`, :meth:`datacenter_pat`, :meth:`datacenter_basic`,
    :meth:`oauth` or :meth:`from_env`. Use it as an async context manager, or call
    :meth:`aclose`. ``api_version`` (2 or 3) and ``deployment`` skip the ``serverInfo`` probe.
    """

    def __init__(
        self,
        base_url: str,
        *,
        auth: httpx.Auth | None = None,
        api_version: int | None = None,
        deployment: DeploymentType | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float | httpx.Timeout | None = None,
        headers: Mapping[str, str] | None = None,
        http: HttpClient | None = None,
        sleep: Sleep | None = None,
        clock: Clock | None = None,
        retry: RetryPolicy | None = None,
        limits: GovernorLimits | None = None,
        governor_store: GovernorStore | None = None,
    ) -> None:
        if deployment is None and _is_cloud_host(base_url):
            deployment = DeploymentType.CLOUD
        if http is None:
            if not base_url.startswith(("https://", "http://")):
                raise ValidationError("the Jira base URL must be an http(s) URL")
            if limits is None and deployment == DeploymentType.CLOUD:
                # Pace to Cloud's documented burst and per-issue limits before Jira has to say
                # so; elsewhere (Data Center limits are set by each admin) follow its headers.
                limits = GovernorLimits.jira_cloud()
            http = HttpClient(
                base_url,
                auth=auth,
                transport=transport,
                headers={"Accept": "application/json", **(headers or {})},
                timeout=_timeout(timeout),
                clock=clock,
                retry=retry,
                limits=limits,
                governor_store=governor_store,
            )
        # Waits of our own (reconcile polls) go through the HTTP core's clock, so one fake
        # clock drives every wait in tests.
        super().__init__(
            http,
            api_version=api_version,
            deployment=deployment,
            sleep=sleep or http.clock.sleep,
        )

    @classmethod
    def cloud(
        cls, site_url: str, *, email: str, api_token: str, **options: Unpack[ClientOptions]
    ) -> Self:
        """Jira Cloud with an Atlassian account email and API token (basic auth), REST v3."""
        if not email or not api_token:
            raise ValidationError("Jira Cloud needs the account email and an API token")
        options.setdefault("deployment", DeploymentType.CLOUD)
        return cls(site_url, auth=BasicAuth(email, api_token), **options)

    @classmethod
    def datacenter_pat(cls, base_url: str, *, token: str, **options: Unpack[ClientOptions]) -> Self:
        """Jira Server/Data Center with a personal access token (bearer), REST v2."""
        options.setdefault("deployment", DeploymentType.DATA_CENTER)
        return cls(base_url, auth=BearerAuth(token), **options)

    @classmethod
    def datacenter_basic(
        cls, base_url: str, *, username: str, password: str, **options: Unpack[ClientOptions]
    ) -> Self:
        """Jira Server/Data Center with a username and password (basic auth), REST v2."""
        if not username or not password:
            raise ValidationError("basic auth needs a username and a password")
        options.setdefault("deployment", DeploymentType.DATA_CENTER)
        return cls(base_url, auth=BasicAuth(username, password), **options)

    @classmethod
    def oauth(
        cls,
        cloud_id: str,
        *,
        auth: httpx.Auth | str,
        base_url: str | None = None,
        **options: Unpack[ClientOptions],
    ) -> Self:
        """Jira Cloud through OAuth 2.0 (3LO), at ``https://api.atlassian.com/ex/jira/{cloudId}``.

        ``auth`` is an access token or, better, a refreshing
        :class:`~jirabridge.http.OAuth2Auth` (single-flight refresh of rotating tokens).
        ``base_url`` overrides the gateway (tests, the simulator).
        """
        flow = BearerAuth(auth) if isinstance(auth, str) else auth
        options.setdefault("deployment", DeploymentType.CLOUD)
        return cls(base_url or oauth_base_url(cloud_id), auth=flow, **options)

    @classmethod
    def from_settings(cls, settings: JiraSettings, **options: Unpack[ClientOptions]) -> Self:
        """A client for :class:`JiraSettings`."""
        if settings.auth_kind == AuthKind.PAT:
            options.setdefault("deployment", DeploymentType.DATA_CENTER)
        options.setdefault("api_version", settings.api_version)
        options.setdefault("timeout", settings.timeout)
        if settings.rate_limit_rps is not None and "limits" not in options:
            rate = Rate(settings.rate_limit_rps, max(1.0, settings.rate_limit_rps))
            options["limits"] = GovernorLimits(default_rate=rate)
        if settings.max_retries is not None and "retry" not in options:
            options["retry"] = RetryPolicy(max_retries=settings.max_retries)
        return cls(settings.url, auth=settings.auth(), **options)

    @classmethod
    def from_env(
        cls, env: Mapping[str, str] | None = None, **options: Unpack[ClientOptions]
    ) -> Self:
        """A client configured from ``JIRA_*`` environment variables (see
        :meth:`JiraSettings.from_env`); a :class:`~jirabridge.errors.ConfigError` names what
        is missing."""
        return cls.from_settings(JiraSettings.from_env(env), **options)

    async def test_connection(self) -> ConnectionCheck:
        """Check the site is Jira, reachable, and accepts the credentials.

        Never raises for what it diagnoses; the verdict says what is wrong and the message how
        to fix it.
        """
        try:
            info = await self._fetch_server_info(probe=True)
        except Exception as exc:  # diagnosed below; anything unexpected is re-raised there
            return verdict_for_error(exc, stage="server")
        if not info.version and not info.deployment_type:
            return ConnectionCheck(
                ConnectionVerdict.NOT_JIRA,
                "The URL answers, but not like Jira (serverInfo has no version).",
            )
        try:
            user = await self.myself()
        except Exception as exc:
            return verdict_for_error(exc, stage="user")
        if not user.identity:
            return ConnectionCheck(
                ConnectionVerdict.BAD_CREDENTIALS,
                "Jira answered as an anonymous user; the credentials were not accepted.",
                server=info,
            )
        title = info.server_title or info.base_url or "Jira"
        return ConnectionCheck(
            ConnectionVerdict.OK,
            f"Connected to {title} ({info.deployment_type or 'Server'} {info.version or ''})"
            f" as {user.display_name or user.identity}.".replace(" )", ")"),
            server=info,
            user=user,
        )

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


def _is_cloud_host(base_url: str) -> bool:
    # Atlassian-hosted sites and the OAuth/scoped-token gateway are Cloud by definition, which
    # saves the serverInfo probe and lets the governor pace to Cloud's limits from the start.
    host = httpx.URL(base_url).host if base_url.startswith(("https://", "http://")) else ""
    return host.endswith((".atlassian.net", ".jira.com")) or host == "api.atlassian.com"


def _timeout(value: float | httpx.Timeout | None) -> httpx.Timeout | None:
    if value is None or isinstance(value, httpx.Timeout):
        return value
    return httpx.Timeout(value, connect=min(value, 10.0))
