"""GitHub connections as a service: create (with their webhook endpoint), test, pick
repositories, set up webhooks, remove; GitHub clients for them; backfill runs.

One :class:`GitHubService` per process. It is also what the GitHub-and-Jira workflows get as
their resources (:class:`jirabridge.sync.devlinks.jobs.DevLinkResources`). Secrets (tokens,
App private keys) are decrypted only to build a client and never returned: the generated
webhook secret is the one thing shown, once, when a connection is created.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from jirabridge.errors import ApiError, ConfigError, JirabridgeError, NotFoundError, ValidationError
from jirabridge.github import GitHubClient
from jirabridge.http.auth import GitHubAppAuth
from jirabridge.http.retry import RetryPolicy
from jirabridge.jira import JiraClient
from jirabridge.jobs.engine import JobEngine
from jirabridge.service.connection_clients import JiraClientFactory
from jirabridge.service.settings import Settings
from jirabridge.service.webhook_intake import create_endpoint
from jirabridge.store.accounts import get_connection_unscoped
from jirabridge.store.db import read_transaction, write_transaction
from jirabridge.store.devlinks import OwnerRef
from jirabridge.store.github_connections import GitHubConnection, GitHubConnectionStore
from jirabridge.store.secrets import SecretBox
from jirabridge.store.webhook_models import EndpointKind, WebhookEndpointRow, WebhookSource
from jirabridge.sync.devlinks import jobs as devlink_jobs
from jirabridge.sync.devlinks.webhook_setup import HookSetup, set_up_webhooks
from jirabridge.sync.triage.rules import load_rules

__all__ = ["ConnectionTest", "GitHubService", "NewGitHubConnection", "build_github_service"]


_NO_RETRY = RetryPolicy(max_retries=0)


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class NewGitHubConnection:
    """A created connection, its webhook URL, and the webhook secret (shown this once)."""

    connection: GitHubConnection
    webhook_url: str
    webhook_secret: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class ConnectionTest:
    """The answer of a connection test: ``ok`` and a sentence, plus the rate budget left."""

    ok: bool
    message: str
    rate_remaining: int | None = None


class GitHubService:
    """GitHub connections of users and teams, and the clients and runs built on them."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        box: SecretBox,
        jira_clients: JiraClientFactory,
        *,
        public_base: str,
        api_url: str = "https://api.github.com",
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], datetime] = _utcnow,
        jobs: JobEngine | None = None,
    ) -> None:
        #: The job engine backfills are enqueued on (None: this process cannot start them).
        self.jobs = jobs
        self._sessions = sessions
        self._box = box
        self._jira_clients = jira_clients
        self.public_base = public_base.rstrip("/")
        self.api_url = api_url.rstrip("/")
        self._transport = transport
        self._clock = clock

    def __repr__(self) -> str:
        return f"GitHubService(api_url={self.api_url!r})"

    @property
    def sessions(self) -> async_sessionmaker[AsyncSession]:
        """The application database."""
        return self._sessions

    def now(self) -> datetime:
        """The current time."""
        return self._clock()

    def store(self, owner_key: str) -> GitHubConnectionStore:
        """The connections of one owner."""
        return GitHubConnectionStore(self._sessions, self._box, owner_key)

    def webhook_url(self, endpoint_id: str) -> str:
        """Where GitHub delivers to for an endpoint."""
        return f"{self.public_base}/webhooks/github/{endpoint_id}"

    async def _check_jira_connection(self, owner_key: str, jira_connection_id: str) -> None:
        owner = OwnerRef.parse(owner_key)
        async with read_transaction(self._sessions) as session:
            try:
                row = await get_connection_unscoped(session, jira_connection_id)
            except NotFoundError:
                row = None
        if row is None or (row.owner_user_id, row.owner_team_id) != (owner.user_id, owner.team_id):
            raise NotFoundError("no such Jira connection")

    async def create(
        self,
        owner_key: str,
        *,
        name: str,
        kind: str,
        secret: str,
        repos: Sequence[str] = (),
        project_keys: Sequence[str] = (),
        app_id: str | None = None,
        installation_id: str | None = None,
        triage_label: str | None = None,
        triage_rules: str | None = None,
        jira_connection_id: str | None = None,
    ) -> NewGitHubConnection:
        """Store a connection and its webhook endpoint (one secret, shared by both).

        Everything is checked before anything is written; if the endpoint cannot be created
        the connection is removed again, so a failure leaves nothing behind.
        """
        owner = OwnerRef.parse(owner_key)
        if jira_connection_id:
            await self._check_jira_connection(owner_key, jira_connection_id)
        if triage_rules:
            load_rules(triage_rules)
        store = self.store(owner_key)
        connection, hook_secret = await store.create(
            name=name,
            kind=kind,
            secret=secret,
            repos=repos,
            project_keys=project_keys,
            app_id=app_id,
            installation_id=installation_id,
            triage_label=triage_label,
            triage_rules=triage_rules,
            jira_connection_id=jira_connection_id or None,
        )
        try:
            async with write_transaction(self._sessions) as session:
                endpoint, _ = await create_endpoint(
                    session,
                    self._box,
                    owner_user_id=owner.user_id,
                    owner_team_id=owner.team_id,
                    name=f"GitHub: {connection.name}",
                    source=WebhookSource.GITHUB,
                    kind=EndpointKind.GITHUB,
                    connection_id=jira_connection_id or None,
                    secret=hook_secret,
                )
                endpoint_id = endpoint.id
            connection = await store.attach_endpoint(connection.id, endpoint_id)
        except BaseException:
            await store.delete(connection.id)
            raise
        return NewGitHubConnection(connection, self.webhook_url(endpoint_id), hook_secret)

    async def update(
        self,
        owner_key: str,
        connection_id: str,
        *,
        repos: Sequence[str] | None = None,
        project_keys: Sequence[str] | None = None,
        triage_label: str | None = None,
        triage_rules: str | None = None,
        jira_connection_id: str | None = None,
    ) -> GitHubConnection:
        """Change the repository selection and settings (rules are validated first)."""
        store = self.store(owner_key)
        await store.get(connection_id)
        if triage_rules:
            load_rules(triage_rules)
        if jira_connection_id:
            await self._check_jira_connection(owner_key, jira_connection_id)
        if repos is not None:
            await store.select_repos(connection_id, repos)
        return await store.update_settings(
            connection_id,
            project_keys=project_keys,
            triage_label=triage_label,
            triage_rules=triage_rules,
            jira_connection_id=jira_connection_id,
        )

    async def remove(self, owner_key: str, connection_id: str) -> GitHubConnection:
        """Remove a connection and its webhook endpoint."""
        removed = await self.store(owner_key).delete(connection_id)
        if removed.webhook_endpoint_id is not None:
            async with write_transaction(self._sessions) as session:
                endpoint = await session.get(WebhookEndpointRow, removed.webhook_endpoint_id)
                if endpoint is not None:
                    await session.delete(endpoint)
        return removed

    async def connection(self, owner_key: str, connection_id: str) -> GitHubConnection:
        """The owner's connection (404 for anyone else's)."""
        return await self.store(owner_key).get(connection_id)

    def client_for(
        self, connection: GitHubConnection, secret: str, *, retry: RetryPolicy | None = None
    ) -> GitHubClient:
        """A client authenticated as the connection: its token, or its App installation."""
        if connection.kind == "app":
            auth = GitHubAppAuth(
                connection.app_id or "",
                secret,
                connection.installation_id or "",
                api_url=self.api_url,
            )
            return GitHubClient(
                auth=auth, base_url=self.api_url, transport=self._transport, retry=retry
            )
        return GitHubClient(
            token=secret, base_url=self.api_url, transport=self._transport, retry=retry
        )

    @asynccontextmanager
    async def github(
        self, owner_key: str, connection_id: str, *, retry: RetryPolicy | None = None
    ) -> AsyncIterator[GitHubClient]:
        """A GitHub client of the owner's connection, closed on exit."""
        store = self.store(owner_key)
        connection = await store.get(connection_id)
        client = self.client_for(connection, await store.secret(connection_id), retry=retry)
        try:
            yield client
        finally:
            await client.aclose()

    @asynccontextmanager
    async def jira(self, jira_connection_id: str) -> AsyncIterator[JiraClient]:
        """A Jira client of a connection (workers: the caller has checked ownership)."""
        async with read_transaction(self._sessions) as session:
            row = await get_connection_unscoped(session, jira_connection_id)
        client = await self._jira_clients.for_connection(row)
        try:
            yield client
        finally:
            await client.aclose()

    async def test(self, owner_key: str, connection_id: str) -> ConnectionTest:
        """Call GitHub with the connection's credentials; say what happened in a sentence."""
        try:
            # A test answers now: one attempt, no backoff.
            async with self.github(owner_key, connection_id, retry=_NO_RETRY) as client:
                limit = await client.rate_limit()
        except NotFoundError:
            raise
        except ApiError as exc:
            return ConnectionTest(False, f"GitHub refused the credentials ({exc.status})")
        except JirabridgeError as exc:
            return ConnectionTest(False, f"GitHub could not be reached: {exc.message}")
        remaining = limit.core.remaining if limit.core is not None else None
        return ConnectionTest(True, "GitHub accepted the credentials", remaining)

    async def set_up_webhooks(self, owner_key: str, connection_id: str) -> list[HookSetup]:
        """Create the hook on each selected repository, or say how to by hand."""
        store = self.store(owner_key)
        connection = await store.get(connection_id)
        if connection.webhook_endpoint_id is None:
            raise ValidationError("this connection has no webhook endpoint")
        if not connection.repos:
            raise ValidationError("select at least one repository first")
        secret = await store.webhook_secret(connection_id)
        async with self.github(owner_key, connection_id) as client:
            return await set_up_webhooks(
                client,
                connection.repos,
                url=self.webhook_url(connection.webhook_endpoint_id),
                secret=secret,
            )

    async def start_backfill(
        self,
        owner_key: str,
        connection_id: str,
        *,
        months: int,
        repos: Sequence[str] | None = None,
    ) -> str:
        """Start a backfill of the connection's repositories (or the given ones); the run id."""
        if self.jobs is None:
            raise ConfigError("this process runs no job engine: backfills cannot start here")
        if not 1 <= months <= 120:
            raise ValidationError("months must be between 1 and 120")
        connection = await self.connection(owner_key, connection_id)
        chosen = list(repos) if repos else list(connection.repos)
        if not chosen:
            raise ValidationError("the connection has no repositories selected to backfill")
        unknown = [r for r in chosen if r not in connection.repos]
        if unknown:
            raise ValidationError(f"not selected on this connection: {', '.join(unknown)}")
        run_id, _ = await devlink_jobs.start_backfill(
            self.jobs,
            self._sessions,
            connection,
            repos=chosen,
            months=months,
            new_id=lambda: str(uuid.uuid4()),
        )
        return run_id

    async def backfill_progress(self, owner_key: str, run_id: str) -> dict[str, Any]:
        """Progress of one of the owner's runs, with an ETA."""
        return await devlink_jobs.backfill_progress(
            self._sessions, owner_key, run_id, self._clock()
        )


def build_github_service(
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    *,
    box: SecretBox | None = None,
    jira_clients: JiraClientFactory | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    jobs: JobEngine | None = None,
) -> GitHubService:
    """The service from settings; ``jira_clients``/``transport`` are for tests and the demo."""
    from jirabridge.service.account_wiring import build_accounts_context, secret_box_from_settings

    if jira_clients is None:
        jira_clients = build_accounts_context(settings, sessions, box=box).clients
    base = (settings.base_url or f"http://{settings.host}:{settings.port}").rstrip("/")
    return GitHubService(
        sessions,
        box or secret_box_from_settings(settings),
        jira_clients,
        public_base=base,
        api_url=settings.github_api_url,
        transport=transport,
        jobs=jobs,
    )
