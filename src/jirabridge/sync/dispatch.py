"""Routing of stored webhook deliveries to the handlers features register.

A handler is an async function taking a :class:`DeliveryContext`. It runs inside the database
transaction that marks the delivery done, so its database effects are applied exactly once;
it must not commit. Raising makes the delivery retry with backoff, and dead-letter at the end.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from jirabridge.github.webhooks import GitHubWebhookDelivery, parse_github_delivery
from jirabridge.jira.webhooks import JiraWebhookDelivery, parse_jira_delivery
from jirabridge.store.webhook_models import WebhookDeliveryRow, WebhookEndpointRow, WebhookSource

__all__ = ["DeliveryContext", "Handler", "HandlerRegistry", "event_key"]


@dataclass(frozen=True, slots=True)
class DeliveryContext:
    """Everything a handler gets: the open session, the endpoint, the delivery, the parse."""

    session: AsyncSession
    endpoint: WebhookEndpointRow
    delivery: WebhookDeliveryRow
    parsed: JiraWebhookDelivery | GitHubWebhookDelivery
    now: datetime

    @property
    def site(self) -> str:
        """The connection the event came from (the ledger's ``site``), or the endpoint id."""
        return self.endpoint.connection_id or self.endpoint.id


Handler = Callable[[DeliveryContext], Awaitable[None]]


def event_key(source: str, event: str) -> str:
    """The registry key of an event: Jira's ``webhookEvent`` as is, GitHub's as ``github:<x>``."""
    return f"github:{event}" if source == WebhookSource.GITHUB else event


class HandlerRegistry:
    """Event key -> handlers, in registration order. ``"*"`` receives every event."""

    def __init__(self) -> None:
        self._handlers: dict[str, list[Handler]] = {}

    def register(self, event: str, handler: Handler) -> None:
        """Call ``handler`` for every delivery of ``event`` (e.g. ``jira:issue_updated``,
        ``worklog_deleted``, ``github:pull_request``, or ``*``)."""
        self._handlers.setdefault(event, []).append(handler)

    def handlers_for(self, key: str) -> tuple[Handler, ...]:
        """The handlers of one event key, then the catch-all ones."""
        return (*self._handlers.get(key, ()), *self._handlers.get("*", ()))

    async def dispatch(
        self,
        session: AsyncSession,
        endpoint: WebhookEndpointRow,
        delivery: WebhookDeliveryRow,
        now: datetime,
    ) -> int:
        """Parse the stored delivery and run its handlers; returns how many ran."""
        parsed: JiraWebhookDelivery | GitHubWebhookDelivery
        headers = {str(k): str(v) for k, v in delivery.headers.items()}
        if delivery.source == WebhookSource.GITHUB:
            parsed = parse_github_delivery(headers, delivery.body)
        else:
            parsed = parse_jira_delivery(headers, delivery.body)
        context = DeliveryContext(session, endpoint, delivery, parsed, now)
        handlers = self.handlers_for(event_key(delivery.source, delivery.event))
        for handler in handlers:
            await handler(context)
        return len(handlers)
