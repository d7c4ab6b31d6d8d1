"""Wiring of the webhook feature: one :class:`WebhooksContext` per process.

Features plug their handlers in through ``context.registry`` (per event) and
``context.status`` (per linked subject kind); see docs/decisions/0501-webhook-handler-registry.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from jirabridge.errors import NotFoundError, ValidationError
from jirabridge.service.account_wiring import secret_box_from_settings
from jirabridge.service.settings import Settings
from jirabridge.service.webhook_intake import WebhookIntake, create_endpoint
from jirabridge.service.webhook_worker import DeliveryWorker
from jirabridge.store.account_models import ConnectionKind, JiraConnectionRow
from jirabridge.store.schedules import projects_in_use
from jirabridge.store.secrets import SecretBox
from jirabridge.store.webhook_models import EndpointKind, WebhookEndpointRow, WebhookSource
from jirabridge.store.webhooks import Owner
from jirabridge.sync.devlinks import jobs as devlink_jobs
from jirabridge.sync.dispatch import HandlerRegistry
from jirabridge.sync.dynamic_webhooks import project_filter
from jirabridge.sync.status_subjects import install_status_subjects
from jirabridge.sync.status_sync import AppliedPlan, StatusSync

__all__ = [
    "LiveEvents",
    "NewEndpoint",
    "WebhooksContext",
    "build_webhooks_context",
    "new_endpoint",
    "running_worker",
    "setup_instructions",
]


@dataclass
class LiveEvents:
    """Fan-out of applied status plans to server-sent-event listeners (in this process)."""

    _queues: set[asyncio.Queue[AppliedPlan]] = field(default_factory=set)

    def publish(self, item: AppliedPlan) -> None:
        """Offer an item to every listener; a slow listener loses items, never blocks us."""
        for queue in list(self._queues):
            with contextlib.suppress(asyncio.QueueFull):
                queue.put_nowait(item)

    @contextlib.asynccontextmanager
    async def listen(self) -> AsyncIterator[asyncio.Queue[AppliedPlan]]:
        """A queue that receives every published item while the block runs."""
        queue: asyncio.Queue[AppliedPlan] = asyncio.Queue(maxsize=256)
        self._queues.add(queue)
        try:
            yield queue
        finally:
            self._queues.discard(queue)


@dataclass
class WebhooksContext:
    """Intake, the handler registry, status sync, the worker and live events."""

    sessions: async_sessionmaker[AsyncSession]
    box: SecretBox
    intake: WebhookIntake
    registry: HandlerRegistry
    status: StatusSync
    worker: DeliveryWorker
    live: LiveEvents
    public_base: str
    #: Largest delivery body accepted (bigger ones get 413).
    max_body: int = 1 << 20
    oauth_client_secret: str | None = field(default=None, repr=False)


def build_webhooks_context(
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    *,
    box: SecretBox | None = None,
    clock: Callable[[], float] | None = None,
) -> WebhooksContext:
    """Build the context; the status sync's and GitHub-and-Jira handlers are registered."""
    box = box or secret_box_from_settings(settings)
    tick = clock or time.time
    registry = HandlerRegistry()
    status = StatusSync()
    status.install(registry)
    install_status_subjects(status, registry)
    devlink_jobs.install_handlers(registry)
    live = LiveEvents()
    status.listen(live.publish)
    secret = settings.oauth_client_secret
    base = (settings.base_url or f"http://{settings.host}:{settings.port}").rstrip("/")
    return WebhooksContext(
        sessions=sessions,
        box=box,
        intake=WebhookIntake(sessions, box, clock=tick, oauth_client_id=settings.oauth_client_id),
        registry=registry,
        status=status,
        # The executor id names the lease owner, so an operator (and the scale-out tests) can
        # tell which process handled each delivery; the lease column holds 64 characters.
        worker=DeliveryWorker(sessions, registry, clock=tick, worker_id=settings.executor_id[:64]),
        live=live,
        public_base=base,
        oauth_client_secret=secret.get_secret_value() if secret is not None else None,
    )


@contextlib.asynccontextmanager
async def running_worker(context: WebhooksContext) -> AsyncIterator[None]:
    """Run the delivery worker in the background while the block runs."""
    stop = asyncio.Event()
    task = asyncio.create_task(context.worker.run_forever(stop))
    try:
        yield
    finally:
        stop.set()
        await task


def setup_instructions(kind: EndpointKind, url: str, jql: str | None = None) -> str:
    """What the operator does with a new endpoint (``jql``: the projects in use, if known)."""
    if kind == EndpointKind.GITHUB:
        return (
            f"In the repository's Settings > Webhooks, add {url} with content type "
            "application/json and the secret above."
        )
    if kind == EndpointKind.DYNAMIC:
        return (
            "Jirabridge registers dynamic webhooks for this OAuth connection itself, for the "
            "projects in use, and refreshes them before Jira's 30-day expiry; they are signed "
            "with the OAuth app's client secret. The health view shows when they expire."
        )
    scope = (
        f"set the JQL filter to '{jql}' (the projects Jirabridge follows on this connection)"
        if jql
        else "a JQL filter such as 'project in (ABC)' limits them to your projects"
    )
    return (
        "As a Jira administrator: 1. open Settings > System > WebHooks and choose Create a "
        f"WebHook; 2. URL: {url}; 3. Secret: paste the secret above (it is shown once: keep "
        "it until it is saved in Jira); 4. events: Issue created, updated and deleted, Worklog "
        f"created, updated and deleted, Comment created and updated; 5. {scope}. Jira signs "
        "each delivery with the secret (X-Hub-Signature); anything unsigned or wrongly signed "
        "is refused. The events page shows when the first delivery arrives."
    )


@dataclass(frozen=True)
class NewEndpoint:
    """A created endpoint with what its owner needs once: the URL, secret and instructions."""

    row: WebhookEndpointRow
    url: str
    #: ``None`` for dynamic endpoints: they use the OAuth app's client secret, never shown.
    secret: str | None = field(repr=False)
    instructions: str


async def new_endpoint(
    context: WebhooksContext,
    owner: Owner,
    *,
    name: str,
    source: WebhookSource,
    kind: EndpointKind | None = None,
    connection_id: str | None = None,
    team_id: str | None = None,
) -> NewEndpoint:
    """Create an endpoint for ``owner`` (the API, the events page and the CLI all come here).

    The connection must be one ``owner`` may use: an endpoint tied to it writes status to that
    connection's links. A dynamic endpoint needs an OAuth connection and the OAuth app.
    """
    kind = kind or (EndpointKind.GITHUB if source == WebhookSource.GITHUB else EndpointKind.ADMIN)
    if team_id is not None and team_id not in owner.team_ids:
        raise ValidationError("you can only create endpoints for teams you belong to")
    secret: str | None = None
    if kind == EndpointKind.DYNAMIC:
        if context.oauth_client_secret is None:
            raise ValidationError("dynamic webhooks need the OAuth app configured")
        secret = context.oauth_client_secret
    async with context.sessions() as session:
        jql: str | None = None
        if connection_id is not None:
            connection = await session.get(JiraConnectionRow, connection_id)
            mine = connection is not None and (
                connection.owner_user_id == owner.user_id
                or connection.owner_team_id in owner.team_ids
            )
            if not mine:
                raise NotFoundError("no such Jira connection")
            assert connection is not None
            if kind == EndpointKind.DYNAMIC and connection.kind != ConnectionKind.OAUTH:
                raise ValidationError(
                    "dynamic webhooks are for OAuth connections; token connections use an "
                    "admin webhook (kind 'admin')"
                )
            projects = await projects_in_use(session, connection_id)
            jql = project_filter(projects) if projects else None
        elif kind == EndpointKind.DYNAMIC:
            raise ValidationError("a dynamic endpoint needs the OAuth connection it belongs to")
        row, plain = await create_endpoint(
            session,
            context.box,
            owner_user_id=None if team_id else owner.user_id,
            owner_team_id=team_id,
            name=name,
            source=source,
            kind=kind,
            connection_id=connection_id,
            secret=secret,
        )
        await session.commit()
    url = f"{context.public_base}/webhooks/{row.source}/{row.id}"
    return NewEndpoint(
        row=row,
        url=url,
        secret=None if kind == EndpointKind.DYNAMIC else plain,
        instructions=setup_instructions(kind, url, jql),
    )
