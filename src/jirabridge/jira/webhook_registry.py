"""Dynamic webhooks (``/rest/api/3/webhook``): register, list, refresh, delete.

Only OAuth 2.0 and Connect apps may call these; Jira answers API-token callers with 403. Dynamic
webhooks expire after 30 days unless refreshed. Verifying deliveries is
:mod:`jirabridge.jira.webhooks`' job, not this module's.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from jirabridge.errors import ValidationError
from jirabridge.jira.core import JiraCore
from jirabridge.jira.dates import from_epoch_ms, parse_jira_datetime
from jirabridge.jira.models import Webhook, WebhookRegistration

__all__ = ["WebhookRegistryMixin", "WebhookSpec"]

_PATH = "/rest/api/3/webhook"


@dataclass(frozen=True)
class WebhookSpec:
    """One webhook to register: the events and the (required, restricted) JQL filter."""

    events: Sequence[str]
    jql_filter: str
    field_ids_filter: Sequence[str] = field(default_factory=tuple)
    issue_property_keys_filter: Sequence[str] = field(default_factory=tuple)

    def to_wire(self) -> dict[str, Any]:
        """The ``WebhookDetails`` body."""
        if not self.events:
            raise ValidationError("a webhook needs at least one event")
        if not self.jql_filter.strip():
            raise ValidationError("Jira requires a JQL filter on every dynamic webhook")
        body: dict[str, Any] = {"events": list(self.events), "jqlFilter": self.jql_filter}
        if self.field_ids_filter:
            body["fieldIdsFilter"] = list(self.field_ids_filter)
        if self.issue_property_keys_filter:
            body["issuePropertyKeysFilter"] = list(self.issue_property_keys_filter)
        return body


class WebhookRegistryMixin(JiraCore):
    """The dynamic-webhook lifecycle (Cloud, OAuth apps)."""

    async def register_webhooks(
        self, url: str, webhooks: Sequence[WebhookSpec]
    ) -> list[WebhookRegistration]:
        """``POST /webhook``. Jira may answer 200 with per-webhook ``errors``: check each result."""
        if not webhooks:
            raise ValidationError("give at least one webhook to register")
        body = {"url": url, "webhooks": [w.to_wire() for w in webhooks]}
        data = await self._send("POST", _PATH, json=body, idempotent=False)
        return [
            WebhookRegistration.model_validate(x)
            for x in (data or {}).get("webhookRegistrationResult", [])
        ]

    async def webhooks(self) -> AsyncIterator[Webhook]:
        """The webhooks this app registered on the site."""
        async for raw in self._offset_pages(_PATH, page_size=100):
            yield Webhook.model_validate(raw)

    async def refresh_webhooks(self, webhook_ids: Sequence[int]) -> datetime:
        """``PUT /webhook/refresh``: push expiry 30 days out; returns the new expiry."""
        if not webhook_ids:
            raise ValidationError("give at least one webhook id")
        data = await self._send(
            "PUT", f"{_PATH}/refresh", json={"webhookIds": [int(x) for x in webhook_ids]}
        )
        # The schema says epoch milliseconds; Atlassian's own example shows a datetime string.
        expiry = data["expirationDate"]
        if isinstance(expiry, str) and not expiry.isdigit():
            return parse_jira_datetime(expiry)
        return from_epoch_ms(int(expiry))

    async def delete_webhooks(self, webhook_ids: Sequence[int]) -> None:
        """``DELETE /webhook`` with the ids in the body."""
        if not webhook_ids:
            raise ValidationError("give at least one webhook id")
        await self._send("DELETE", _PATH, json={"webhookIds": [int(x) for x in webhook_ids]})
