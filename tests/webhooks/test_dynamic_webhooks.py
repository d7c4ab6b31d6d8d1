"""Dynamic webhook lifecycle: the pure planner, and the executor against a recording API."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta

import pytest

from jirabridge.errors import ValidationError
from jirabridge.jira.models import Webhook, WebhookRegistration
from jirabridge.jira.webhook_registry import WebhookSpec
from jirabridge.sync.dynamic_webhooks import (
    DYNAMIC_EVENTS,
    apply_dynamic_plan,
    plan_dynamic_webhooks,
    project_filter,
)

NOW = datetime(2026, 11, 22, tzinfo=UTC)
URL = "https://jb.example/webhooks/jira/e1"
JQL = project_filter(["demo", "ABC", "DEMO"])


def hook(hook_id: int, *, days_left: float, jql: str = JQL, url: str = URL) -> Webhook:
    return Webhook(
        id=hook_id,
        jql_filter=jql,
        events=list(DYNAMIC_EVENTS),
        url=url,
        expiration_date=NOW + timedelta(days=days_left),
    )


def test_project_filter() -> None:
    assert JQL == 'project in ("ABC", "DEMO")'
    with pytest.raises(ValidationError):
        project_filter([" "])


def test_nothing_registered_or_lost_means_register() -> None:
    plan = plan_dynamic_webhooks(URL, JQL, [], NOW)
    assert plan.register == WebhookSpec(events=DYNAMIC_EVENTS, jql_filter=JQL)
    assert (plan.refresh, plan.delete) == ((), ())


def test_refresh_only_when_expiry_is_near() -> None:
    fresh = plan_dynamic_webhooks(URL, JQL, [hook(1, days_left=25)], NOW)
    assert fresh.is_noop
    assert fresh.keep == (1,)
    due = plan_dynamic_webhooks(URL, JQL, [hook(1, days_left=9)], NOW)
    assert (due.register, due.refresh) == (None, (1,))


def test_a_changed_project_set_replaces_the_hook_and_others_urls_are_left_alone() -> None:
    remote = [hook(1, days_left=20, jql="project in (OLD)"), hook(2, days_left=1, url="https://x")]
    plan = plan_dynamic_webhooks(URL, JQL, remote, NOW)
    assert plan.register is not None
    assert plan.delete == (1,)


class RecordingApi:
    def __init__(self) -> None:
        self.calls: list[tuple[str, object]] = []

    async def webhooks(self) -> AsyncIterator[Webhook]:  # pragma: no cover - unused here
        for item in ():
            yield item

    async def register_webhooks(
        self, url: str, webhooks: Sequence[WebhookSpec]
    ) -> list[WebhookRegistration]:
        self.calls.append(("register", url))
        return [WebhookRegistration(created_webhook_id=7)]

    async def refresh_webhooks(self, webhook_ids: Sequence[int]) -> datetime:
        self.calls.append(("refresh", tuple(webhook_ids)))
        return NOW + timedelta(days=30)

    async def delete_webhooks(self, webhook_ids: Sequence[int]) -> None:
        self.calls.append(("delete", tuple(webhook_ids)))


async def test_the_executor_does_exactly_the_plan() -> None:
    api = RecordingApi()
    remote = [hook(1, days_left=20, jql="project in (OLD)")]
    result = await apply_dynamic_plan(api, URL, plan_dynamic_webhooks(URL, JQL, remote, NOW))
    assert api.calls == [("delete", (1,)), ("register", URL)]
    assert result.webhook_ids == [7]

    api = RecordingApi()
    result = await apply_dynamic_plan(
        api, URL, plan_dynamic_webhooks(URL, JQL, [hook(3, days_left=2)], NOW)
    )
    assert api.calls == [("refresh", (3,))]
    assert result.expires_at == NOW + timedelta(days=30)
