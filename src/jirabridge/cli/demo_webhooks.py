"""The demo's webhook data: an admin endpoint for the simulated site, two issues followed, and a
few signed deliveries (one a repeat) waiting for the worker, so ``/events`` has content and the
simulator's own webhook drives its badges live."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

from jirabridge.cli.accounts_common import accounts_context, user_by_email
from jirabridge.jira.webhooks import hub_signature
from jirabridge.service.settings import Settings
from jirabridge.service.webhook_intake import endpoint_secret_binding
from jirabridge.service.webhook_wiring import build_webhooks_context, new_endpoint
from jirabridge.store.webhook_models import EndpointKind, WebhookSource
from jirabridge.store.webhooks import Owner, list_endpoints
from jirabridge.sync.status_sync import StatusSync

__all__ = ["DemoEndpoint", "seed_demo_webhooks"]

DEMO_ENDPOINT_NAME = "Simulated Jira (admin webhook)"


@dataclass(frozen=True)
class DemoEndpoint:
    """Where the simulator's admin webhook must post, and the secret it signs with."""

    url: str
    secret: str = ""

    def __repr__(self) -> str:
        return f"DemoEndpoint(url={self.url!r})"


def _delivery(key: str, status: tuple[str, str], timestamp: int) -> bytes:
    name, category = status
    return json.dumps(
        {
            "webhookEvent": "jira:issue_updated",
            "issue_event_type_name": "issue_generic",
            "timestamp": timestamp,
            "issue": {
                "id": key.rsplit("-", 1)[1],
                "key": key,
                "fields": {"status": {"name": name, "statusCategory": {"key": category}}},
            },
        }
    ).encode()


async def seed_demo_webhooks(
    settings: Settings,
    *,
    email: str,
    connection_id: str,
    statuses: Mapping[str, tuple[str, str]],
) -> DemoEndpoint:
    """Create the demo endpoint once (later runs find it); returns its URL and secret.

    ``statuses`` maps the issues to follow to their current ``(status, category)`` in the
    simulator, so the sample deliveries agree with what polling will find.
    """
    async with accounts_context(settings) as ctx:
        user = await user_by_email(ctx, email)
        owner = Owner(user_id=user.id)
        webhooks = build_webhooks_context(settings, ctx.sessions)
        async with ctx.sessions() as session:
            existing = next(
                (e for e in await list_endpoints(session, owner) if e.name == DEMO_ENDPOINT_NAME),
                None,
            )
            if existing is not None:
                secret = webhooks.box.decrypt(
                    existing.secret_ciphertext, endpoint_secret_binding(existing)
                )
                return DemoEndpoint(f"{webhooks.public_base}/webhooks/jira/{existing.id}", secret)
            for key in statuses:
                await StatusSync.link(
                    session,
                    owner_user_id=user.id,
                    owner_team_id=None,
                    connection_id=connection_id,
                    issue_key=key,
                    subject_kind="story",
                    subject_id=f"demo-{key}",
                    local_state="linked",
                )
            await session.commit()
        created = await new_endpoint(
            webhooks,
            owner,
            name=DEMO_ENDPOINT_NAME,
            source=WebhookSource.JIRA,
            kind=EndpointKind.ADMIN,
            connection_id=connection_id,
        )
        assert created.secret is not None
        # Through the real intake: verified, stored once (the repeat is acknowledged, not
        # stored), processed by the worker when the service starts.
        for n, (key, status) in enumerate(statuses.items()):
            body = _delivery(key, status, 1_700_000_000_000 + n)
            headers = {
                "content-type": "application/json",
                "x-hub-signature": hub_signature(body, created.secret),
                "x-atlassian-webhook-identifier": f"demo-{key}",
            }
            for _attempt in range(2 if n == 0 else 1):
                await webhooks.intake.receive(WebhookSource.JIRA, created.row.id, headers, body)
        return DemoEndpoint(created.url, created.secret)
