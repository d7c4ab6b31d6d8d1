"""Dynamic webhook lifecycle for OAuth connections: register, refresh before expiry, re-register.

:func:`plan_dynamic_webhooks` is pure (what Jira lists + what we want + now -> a plan);
:func:`apply_dynamic_plan` carries out exactly that plan through the client's webhook API.
Run on a schedule (daily is plenty): hooks are refreshed once less than ``refresh_before`` of
their 30 days is left, and a hook Jira lost (expired, deleted by an admin) is registered again.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from jirabridge.errors import ValidationError
from jirabridge.jira.jql import jql_list
from jirabridge.jira.models import Webhook, WebhookRegistration
from jirabridge.jira.webhook_registry import WebhookSpec

__all__ = [
    "DEFAULT_REFRESH_BEFORE",
    "DYNAMIC_EVENTS",
    "DynamicPlan",
    "DynamicResult",
    "WebhookApi",
    "apply_dynamic_plan",
    "keep_registered",
    "plan_dynamic_webhooks",
    "project_filter",
    "remove_registered",
]

#: Refresh when fewer than this many of the 30 days are left: a failed run has days to recover.
DEFAULT_REFRESH_BEFORE = timedelta(days=10)

#: What status sync and the features need (Cloud sends no worklog events to dynamic webhooks;
#: polling covers worklogs).
DYNAMIC_EVENTS: tuple[str, ...] = (
    "jira:issue_created",
    "jira:issue_updated",
    "jira:issue_deleted",
    "comment_created",
    "comment_updated",
)


class WebhookApi(Protocol):
    """The part of :class:`~jirabridge.jira.client.JiraClient` this module uses."""

    def webhooks(self) -> AsyncIterator[Webhook]: ...  # pragma: no cover - protocol

    async def register_webhooks(
        self, url: str, webhooks: Sequence[WebhookSpec]
    ) -> list[WebhookRegistration]: ...  # pragma: no cover - protocol

    async def refresh_webhooks(
        self, webhook_ids: Sequence[int]
    ) -> datetime: ...  # pragma: no cover

    async def delete_webhooks(self, webhook_ids: Sequence[int]) -> None: ...  # pragma: no cover


def project_filter(project_keys: Sequence[str]) -> str:
    """The JQL filter for the projects in use (``project in (A, B)``)."""
    keys = sorted({k.strip().upper() for k in project_keys if k.strip()})
    if not keys:
        raise ValidationError("a dynamic webhook needs at least one project")
    return f"project in {jql_list(keys)}"


@dataclass(frozen=True, slots=True)
class DynamicPlan:
    """What to do: register one spec, refresh some ids, delete stale ones."""

    register: WebhookSpec | None
    refresh: tuple[int, ...] = ()
    delete: tuple[int, ...] = ()
    keep: tuple[int, ...] = ()

    @property
    def is_noop(self) -> bool:
        """Nothing to send."""
        return self.register is None and not self.refresh and not self.delete


@dataclass
class DynamicResult:
    """What applying a plan left registered, and the earliest expiry known."""

    webhook_ids: list[int] = field(default_factory=list)
    expires_at: datetime | None = None
    errors: list[str] = field(default_factory=list)


def plan_dynamic_webhooks(
    url: str,
    jql: str,
    remote: Sequence[Webhook],
    now: datetime,
    *,
    events: Sequence[str] = DYNAMIC_EVENTS,
    refresh_before: timedelta = DEFAULT_REFRESH_BEFORE,
) -> DynamicPlan:
    """Compare the hooks Jira lists with the one we want at ``url`` for ``jql``."""
    ours = [h for h in remote if h.url is None or h.url == url]
    wanted = sorted(events)
    current = [h for h in ours if h.jql_filter == jql and sorted(h.events) == wanted]
    stale = tuple(h.id for h in ours if h not in current)
    if not current:
        return DynamicPlan(register=WebhookSpec(events=tuple(events), jql_filter=jql), delete=stale)
    due = tuple(
        h.id
        for h in current
        if h.expiration_date is None or h.expiration_date - now <= refresh_before
    )
    keep = tuple(h.id for h in current if h.id not in due)
    return DynamicPlan(register=None, refresh=due, delete=stale, keep=keep)


async def apply_dynamic_plan(api: WebhookApi, url: str, plan: DynamicPlan) -> DynamicResult:
    """Carry out ``plan``: delete stale hooks, refresh due ones, register the missing one."""
    result = DynamicResult(webhook_ids=list(plan.keep))
    if plan.delete:
        await api.delete_webhooks(plan.delete)
    if plan.refresh:
        result.expires_at = await api.refresh_webhooks(plan.refresh)
        result.webhook_ids.extend(plan.refresh)
    if plan.register is not None:
        for outcome in await api.register_webhooks(url, [plan.register]):
            if outcome.created_webhook_id is not None:
                result.webhook_ids.append(outcome.created_webhook_id)
            result.errors.extend(outcome.errors)
    return result


async def keep_registered(
    api: WebhookApi,
    url: str,
    jql: str,
    now: datetime,
    *,
    events: Sequence[str] = DYNAMIC_EVENTS,
    refresh_before: timedelta = DEFAULT_REFRESH_BEFORE,
) -> tuple[DynamicPlan, DynamicResult]:
    """One scheduled round: list what Jira has, plan, apply; the plan and what is registered.

    A hook Jira no longer lists (expired, deleted by an admin) is simply missing from the list,
    so the plan registers it again. The expiry reported is the earliest one Jira now lists.
    """
    remote = [hook async for hook in api.webhooks()]
    plan = plan_dynamic_webhooks(
        url, jql, remote, now, events=events, refresh_before=refresh_before
    )
    result = await apply_dynamic_plan(api, url, plan)
    if plan.register is not None or plan.refresh:
        # Jira is the authority on expiry; one more list is cheaper than guessing it.
        remote = [hook async for hook in api.webhooks()]
    expiries = [
        h.expiration_date
        for h in remote
        if h.id in result.webhook_ids and h.expiration_date is not None
    ]
    result.expires_at = min(expiries) if expiries else result.expires_at
    return plan, result


async def remove_registered(api: WebhookApi, url: str, known_ids: Sequence[int]) -> list[int]:
    """Delete every hook of ours at ``url`` (and ``known_ids``); the ids deleted."""
    ids = sorted({h.id async for h in api.webhooks() if h.url in (None, url)} | set(known_ids))
    if ids:
        await api.delete_webhooks(ids)
    return ids
