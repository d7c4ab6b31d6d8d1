"""Crash points of a worklog sync: the process stops before or after each step of a create
and of an update; a restarted sync (a new executor on the same database) ends with exactly
one worklog per record, holding the record's latest content. SQLite and PostgreSQL.

The real ``kill -9`` of a process mid-run is in test_worklogs_crash.py and, with several
worker processes, in tests/scaleout/test_real_commands.py; this file walks every step.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from jirabridge.jira import JiraClient
from jirabridge.store.worklog_models import SyncState
from jirabridge.sync.worklogs.executor import WorklogSync

from .conftest import open_issue_keys
from .test_worklogs_executor import edit, rows, stamped
from support.crash_points import CrashPoint, ProcessDied, crash_at

SITE = "crash-points"
DAY = datetime(2026, 11, 18, 8, 0, tzinfo=UTC)

CREATE_POINTS = [
    CrashPoint("ledger", "record_intent", "before"),
    CrashPoint("ledger", "record_intent", "after"),
    CrashPoint("ledger", "mark_sent", "after"),
    CrashPoint("jira", "add_worklog_once", "before"),
    CrashPoint("jira", "add_worklog_once", "after"),  # Jira applied it; the answer died
    CrashPoint("ledger", "confirm", "after"),
    CrashPoint("sync", "_mark_synced", "after"),
    CrashPoint("sync", "_log", "before"),
    CrashPoint("sync", "_log", "after"),
]
UPDATE_POINTS = [
    CrashPoint("ledger", "record_intent", "after"),
    CrashPoint("ledger", "mark_sent", "after"),
    CrashPoint("jira", "update_worklog", "after"),
    CrashPoint("ledger", "confirm", "after"),
    CrashPoint("sync", "_mark_synced", "after"),
]


def _target(sync: WorklogSync, point: CrashPoint) -> Any:
    return {"ledger": sync.ledger, "jira": sync._jira, "sync": sync}[point.owner]


async def _restart_and_finish(
    sessions: async_sessionmaker[AsyncSession], jira: JiraClient, record_id: str
) -> None:
    # A new process: nothing in memory survives, only the database and Jira.
    summary = await WorklogSync(sessions, jira, site=SITE).sync([record_id], run_id="restart")
    assert summary.failed == 0, summary.errors


async def test_a_create_stopped_at_any_step_ends_with_one_worklog(
    wl_sessions: async_sessionmaker[AsyncSession],
    add_record: Callable[..., Any],
    sim_jira: tuple[Any, JiraClient],
) -> None:
    app, jira = sim_jira
    key = open_issue_keys(app, 1)[0]
    for n, point in enumerate(CREATE_POINTS):
        record_id = await add_record(issue_key=key, started_at=DAY + timedelta(hours=n))
        sync = WorklogSync(wl_sessions, jira, site=SITE)
        with crash_at(_target(sync, point), point), pytest.raises(ProcessDied):
            await sync.sync([record_id], run_id=f"crash-{point}")

        await _restart_and_finish(wl_sessions, jira, record_id)

        assert stamped(app)[record_id] == 1, point
        row = (await rows(wl_sessions))[record_id]
        assert row.sync_state == SyncState.SYNCED.value, point
        assert row.worklog_id is not None
        assert int(row.worklog_id) in app.state.sim.site.worklog_index, point


async def test_an_update_stopped_at_any_step_ends_with_the_new_content_once(
    wl_sessions: async_sessionmaker[AsyncSession],
    add_record: Callable[..., Any],
    sim_jira: tuple[Any, JiraClient],
) -> None:
    app, jira = sim_jira
    key = open_issue_keys(app, 1)[0]
    for n, point in enumerate(UPDATE_POINTS):
        record_id = await add_record(issue_key=key, started_at=DAY + timedelta(days=1, hours=n))
        await _restart_and_finish(wl_sessions, jira, record_id)
        await edit(wl_sessions, record_id, duration_seconds=3600 + 60 * n)
        sync = WorklogSync(wl_sessions, jira, site=SITE)
        with crash_at(_target(sync, point), point), pytest.raises(ProcessDied):
            await sync.sync([record_id], run_id=f"crash-{point}")

        await _restart_and_finish(wl_sessions, jira, record_id)

        assert stamped(app)[record_id] == 1, point
        row = (await rows(wl_sessions))[record_id]
        assert row.sync_state == SyncState.SYNCED.value, point
        assert row.worklog_id is not None
        remote = app.state.sim.site.worklog_index[int(row.worklog_id)]
        assert remote.time_spent_seconds == 3600 + 60 * n, point
