"""The process is killed (SIGKILL) mid-run, right after Jira applied a worklog and before the
process heard the answer; a restarted worker finishes the run. Exactly N worklogs, none
missing, none doubled. Runs on SQLite and PostgreSQL, against the simulator on loopback."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from jirabridge.sim.app import SimConfig
from jirabridge.sim.server import running_sim
from jirabridge.store.db import read_transaction
from jirabridge.store.worklog_models import SyncAttemptRow, TimeRecordRow

from .conftest import add_connection, open_issue_keys
from .test_worklogs_executor import stamped

WORKER = Path(__file__).with_name("crash_sync_worker.py")
BOUND_SEC = 120  # turns a hang into a failure; measures nothing
DAY = datetime(2026, 11, 17, 8, 0, tzinfo=UTC)


@pytest.mark.slow
async def test_killed_run_resumes_with_exactly_one_worklog_per_record(
    migrated_database_url: str,
    jobs_database_url: str,
    wl_sessions: async_sessionmaker[AsyncSession],
    owner_id: str,
    add_record: Callable[..., Any],
    tmp_path: Path,
) -> None:
    with running_sim(SimConfig(seed=21)) as (sim_url, app):
        keys = open_issue_keys(app, 3)
        ids = [
            await add_record(issue_key=keys[n % 3], started_at=DAY + timedelta(hours=n))
            for n in range(6)
        ]
        runtime = app.state.sim
        config = {
            "app_db": migrated_database_url,
            "jobs_db": jobs_database_url,
            "sim_url": sim_url,
            "email": runtime.admin_email,
            "token": runtime.admin_token,
            "site": await add_connection(wl_sessions, owner_id, sim_url),
            "owner": owner_id,
            "record_ids": ids,
            "kill_after": 3,
            "run_id_file": str(tmp_path / "run-id"),
        }
        config_path = tmp_path / "config.json"
        config_path.write_text(json.dumps(config))
        command = [sys.executable, str(WORKER)]
        env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])}
        started = subprocess.run(
            [*command, "start", str(config_path)],
            env=env,
            capture_output=True,
            text=True,
            timeout=BOUND_SEC,
            check=False,
        )
        assert started.returncode == -signal.SIGKILL, started.stderr
        # Killed after the third POST was applied and before its answer was recorded.
        assert sum(stamped(app).values()) == 3
        async with read_transaction(wl_sessions) as session:
            linked = (await session.execute(select(TimeRecordRow.worklog_id))).scalars().all()
        assert sum(1 for w in linked if w) == 2

        resumed = subprocess.run(
            [*command, "resume", str(config_path)],
            env=env,
            capture_output=True,
            text=True,
            timeout=BOUND_SEC,
            check=False,
        )
        assert resumed.returncode == 0, resumed.stderr
        summary = json.loads(resumed.stdout.strip().splitlines()[-1])
        assert summary["total"] == 6
        assert summary["succeeded"] == 6
        assert summary["failed"] == 0
        counts = stamped(app)
        assert set(counts) == set(ids)
        assert all(n == 1 for n in counts.values()), counts
        async with read_transaction(wl_sessions) as session:
            records = (await session.execute(select(TimeRecordRow))).scalars().all()
            attempts = (await session.execute(select(SyncAttemptRow))).scalars().all()
        assert {r.sync_state for r in records} == {"synced"}
        index = runtime.site.worklog_index
        for record in records:
            assert record.worklog_id is not None
            assert int(record.worklog_id) in index
        assert {a.record_id for a in attempts} == set(ids)
