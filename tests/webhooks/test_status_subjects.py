"""Jira status reaches the features: time records (#6) and exported stories (#7) follow their
issue without being linked by hand, and worklog events bring the worklog pull-back forward."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from jirabridge.jira.webhooks import hub_signature
from jirabridge.store.account_models import JiraConnectionRow
from jirabridge.store.export_models import ExportItemRow, StoryExportRow
from jirabridge.store.secrets import SecretBox
from jirabridge.store.webhook_models import (
    EndpointKind,
    PollWatermarkRow,
    StatusLinkRow,
    WebhookSource,
)
from jirabridge.store.webhooks import Owner
from jirabridge.store.worklog_models import TimeRecordRow
from jirabridge.sync.dispatch import HandlerRegistry
from jirabridge.sync.status_plan import IncomingStatus, StatusAction
from jirabridge.sync.status_subjects import (
    STORY_SUBJECT,
    TIME_RECORD_SUBJECT,
    ExportHistoryItems,
    exported_items_with_status,
    install_status_subjects,
    live_statuses,
)
from jirabridge.sync.status_sync import StatusSync

from .conftest import ManualClock, add_endpoint, make_connection
from .receiver import receiving_app

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


async def _time_record(
    sessions: async_sessionmaker[AsyncSession], owner: Owner, site: str, key: str
) -> str:
    async with sessions() as session:
        row = TimeRecordRow(
            owner_user_id=owner.user_id,
            connection_id=site,
            started_at=NOW - timedelta(hours=2),
            duration_seconds=3600,
            notes="pairing",
            issue_key=key,
        )
        session.add(row)
        await session.commit()
        return row.id


async def _exported(
    sessions: async_sessionmaker[AsyncSession], owner: Owner, site: str, key: str
) -> int:
    """An export through connection ``site`` that created ``key`` for item ``story-7``, and an
    item of it that failed (no key: not a subject)."""
    async with sessions() as session:
        connection = await session.get(JiraConnectionRow, site)
        assert connection is not None
        export = StoryExportRow(
            owner_user_id=owner.user_id,
            connection_id=site,
            site=connection.site_key,
            base_url=connection.base_url,
            profile_name="default",
            file_name="stories.yaml",
            file_hash="0" * 64,
            plan_id="p1",
            plan={},
            status="finished",
            total=2,
        )
        session.add(export)
        await session.flush()
        item = ExportItemRow(
            export_id=export.id,
            position=0,
            item_id="story-7",
            level="story",
            action="create",
            outcome="created",
            jira_key=key,
        )
        failed = ExportItemRow(
            export_id=export.id,
            position=1,
            item_id="story-8",
            level="story",
            action="create",
            outcome="failed",
        )
        session.add_all([item, failed])
        await session.commit()
        return item.id


async def test_time_records_and_exported_items_follow_jira_status_once(
    sessions: async_sessionmaker[AsyncSession], owner: Owner
) -> None:
    site = await make_connection(sessions, owner)
    record_id = await _time_record(sessions, owner, site, "demo-4")
    item_id = await _exported(sessions, owner, site, "DEMO-4")
    await _time_record(sessions, owner, site, "DEMO-5")  # another issue: untouched
    status = StatusSync()
    install_status_subjects(status, HandlerRegistry())
    done = IncomingStatus("DEMO-4", "Done", "done")

    async with sessions() as session:
        applied = await status.apply_incoming_status(session, site, done, NOW)
        await session.commit()
    assert sorted((a.subject_kind, a.plan.action) for a in applied) == [
        (STORY_SUBJECT, StatusAction.APPLY),
        (TIME_RECORD_SUBJECT, StatusAction.APPLY),
    ]
    async with sessions() as session:
        links = list(
            await session.scalars(select(StatusLinkRow).order_by(StatusLinkRow.subject_kind))
        )
        assert [(link.subject_kind, link.issue_key, link.jira_status) for link in links] == [
            (STORY_SUBJECT, "DEMO-4", "Done"),
            (TIME_RECORD_SUBJECT, "DEMO-4", "Done"),
        ]
        assert links[1].subject_id == record_id
        assert links[1].owner_user_id == owner.user_id
        assert links[0].subject_id == str(item_id)
        connection = await session.get(JiraConnectionRow, site)
        assert connection is not None
        [item] = await exported_items_with_status(session, connection, ExportHistoryItems())
        [export_item] = (
            await session.scalars(select(ExportItemRow).where(ExportItemRow.id == item_id))
        ).all()
        live = await live_statuses(session, site, [export_item])
    assert live[item_id][0] == "Done"
    assert (item.external_id, item.issue_key, item.jira_status, item.local_state) == (
        "story-7",
        "DEMO-4",
        "Done",
        "done",
    )

    # The same change again (the poll after the webhook): nothing applies, no link is added.
    async with sessions() as session:
        again = await status.apply_incoming_status(session, site, done, NOW)
        await session.commit()
        assert again == []
        assert len((await session.scalars(select(StatusLinkRow))).all()) == 2


async def test_a_worklog_event_makes_the_pull_due_now(
    sessions: async_sessionmaker[AsyncSession], box: SecretBox, owner: Owner, tmp_path: Path
) -> None:
    # Ahead of the wall clock the intake stamps deliveries with, so the delivery is due.
    clock = ManualClock(time.time() + 1)
    app, context = receiving_app(sessions, box, tmp_path)
    context.worker._clock = clock  # the worker stamps its handlers' "now" from this clock
    site = await make_connection(sessions, owner)
    later = datetime.fromtimestamp(clock.now, UTC) + timedelta(minutes=5)
    async with sessions() as session:
        session.add(PollWatermarkRow(connection_id=site, next_run_at=later))
        await session.commit()
    endpoint_id, secret = await add_endpoint(sessions, box, owner, EndpointKind.ADMIN, site)
    body = json.dumps(
        {
            "webhookEvent": "worklog_updated",
            "timestamp": 1,
            "worklog": {"id": "10001", "issueId": "10000", "timeSpentSeconds": 3600},
        }
    ).encode()
    headers = {
        "content-type": "application/json",
        "x-hub-signature": hub_signature(body, secret),
        "x-atlassian-webhook-identifier": "wl-1",
    }
    await context.intake.receive(WebhookSource.JIRA, endpoint_id, headers, body)
    report = await context.worker.drain()
    assert len(report.done) == 1
    async with sessions() as session:
        row = await session.get(PollWatermarkRow, site)
        assert row is not None
        assert row.next_run_at == datetime.fromtimestamp(clock.now, UTC)
    del app
