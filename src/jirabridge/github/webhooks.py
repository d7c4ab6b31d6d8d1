"""Verify GitHub webhook deliveries (``X-Hub-Signature-256``) and parse their envelope.

GitHub signs the raw body with HMAC-SHA256 keyed with the hook's secret and sends
``X-Hub-Signature-256: sha256=<hex>``. The legacy SHA-1 ``X-Hub-Signature`` is refused. GitHub
never redelivers on its own, but a manual redelivery reuses ``X-GitHub-Delivery``, which is the
deduplication key.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from jirabridge.errors import ValidationError, WebhookVerificationError

# The HMAC check is the same scheme Jira's admin webhooks use; one implementation serves both.
from jirabridge.jira.webhooks import check_hub_signature, hub_signature

__all__ = [
    "GITHUB_SIGNATURE_HEADER",
    "GitHubWebhookDelivery",
    "github_signature",
    "parse_github_delivery",
    "verify_github_delivery",
    "verify_github_signature",
]

GITHUB_SIGNATURE_HEADER = "X-Hub-Signature-256"


def github_signature(body: bytes, secret: str | bytes) -> str:
    """Return the ``X-Hub-Signature-256`` value GitHub would send for ``body``."""
    return hub_signature(body, secret)


def verify_github_signature(body: bytes, header_value: str | None, secret: str | bytes) -> None:
    """Check an ``X-Hub-Signature-256`` value against the raw ``body``, in constant time.

    Raises :class:`~jirabridge.errors.WebhookVerificationError` when it is missing, not
    ``sha256=``, malformed or wrong.
    """
    check_hub_signature(body, header_value, secret, header_name=GITHUB_SIGNATURE_HEADER)


class GitHubWebhookDelivery(BaseModel):
    """A parsed GitHub delivery: event, dedupe id, and the fields most handlers route on."""

    model_config = ConfigDict(frozen=True)

    event: str
    """``X-GitHub-Event``, e.g. ``issues``, ``pull_request``, ``push``, ``ping``."""
    delivery_id: str
    """``X-GitHub-Delivery``: a GUID, reused by manual redeliveries."""
    hook_id: str | None = None
    action: str | None = None
    repository: str | None = None
    """``owner/name`` of the repository, when the event has one."""
    installation_id: int | None = None
    sender: str | None = None
    payload: dict[str, Any] = Field(default_factory=dict, repr=False)


def parse_github_delivery(headers: Mapping[str, str], body: bytes) -> GitHubWebhookDelivery:
    """Parse an (already verified) delivery into a :class:`GitHubWebhookDelivery`.

    Raises :class:`~jirabridge.errors.ValidationError` when ``X-GitHub-Event`` or
    ``X-GitHub-Delivery`` is missing or the body is not a JSON object.
    """
    h = {k.lower(): v for k, v in headers.items()}
    event = (h.get("x-github-event") or "").strip()
    delivery_id = (h.get("x-github-delivery") or "").strip()
    if not event:
        raise ValidationError("missing X-GitHub-Event header")
    if not delivery_id:
        raise ValidationError("missing X-GitHub-Delivery header")
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValidationError("GitHub webhook body is not valid JSON") from exc
    if not isinstance(payload, dict):
        raise ValidationError("GitHub webhook body must be a JSON object")

    repo = payload.get("repository")
    installation = payload.get("installation")
    sender = payload.get("sender")
    action = payload.get("action")
    installation_id = installation.get("id") if isinstance(installation, dict) else None
    return GitHubWebhookDelivery(
        event=event,
        delivery_id=delivery_id,
        hook_id=h.get("x-github-hook-id"),
        action=action if isinstance(action, str) else None,
        repository=repo.get("full_name") if isinstance(repo, dict) else None,
        installation_id=installation_id if isinstance(installation_id, int) else None,
        sender=sender.get("login") if isinstance(sender, dict) else None,
        payload=payload,
    )


def verify_github_delivery(
    headers: Mapping[str, str], body: bytes, secret: str | bytes
) -> GitHubWebhookDelivery:
    """Verify ``X-Hub-Signature-256`` over the raw ``body``, then parse the delivery."""
    h = {k.lower(): v for k, v in headers.items()}
    value = h.get(GITHUB_SIGNATURE_HEADER.lower())
    if value is None and "x-hub-signature" in h:
        raise WebhookVerificationError(
            "only the legacy SHA-1 X-Hub-Signature was sent; X-Hub-Signature-256 is required"
        )
    verify_github_signature(body, value, secret)
    return parse_github_delivery(headers, body)
