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

from jirabridge.service.account_wiring import secret_box_from_settings
from jirabridge.service.settings import Settings
from jirabridge.service.webhook_intake import WebhookIntake
from jirabridge.service.webhook_worker import DeliveryWorker
from jirabridge.store.secrets import SecretBox
from jirabridge.store.webhook_models import EndpointKind
from jirabridge.sync.dispatch import HandlerRegistry
from jirabridge.sync.status_sync import AppliedPlan, StatusSync

__all__ = [
    "LiveEvents",
    "WebhooksContext",
    "build_webhooks_context",
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
    """Build the context; the status sync's handlers are registered already."""
    box = box or secret_box_from_settings(settings)
    tick = clock or time.time
    registry = HandlerRegistry()
    status = StatusSync()
    status.install(registry)
    live = LiveEvents()
    status.listen(live.publish)
    secret = settings.oauth_client_secret
    base = (settings.base_url or f"http://{settings.host}:{settings.port}").rstrip("/")
    return WebhooksContext(
        sessions=sessions,
        box=box,
        intake=WebhookIntake(sessions, box, clock=tick),
        registry=registry,
        status=status,
        worker=DeliveryWorker(sessions, registry, clock=tick),
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


def setup_instructions(kind: EndpointKind, url: str) -> str:
    """What the operator does with a new endpoint."""
    if kind == EndpointKind.GITHUB:
        return (
            f"In the repository's Settings > Webhooks, add {url} with content type "
            "application/json and the secret above."
        )
    if kind == EndpointKind.DYNAMIC:
        return (
            "Jirabridge registers dynamic webhooks for this OAuth connection itself; they are "
            "signed with the OAuth app's client secret."
        )
    return (
        f"As a Jira administrator, open Settings > System > WebHooks, create a webhook with "
        f"URL {url}, paste the secret above, and select issue, worklog, comment and sprint "
        "events (a JQL filter such as 'project in (ABC)' limits them to your projects)."
    )
