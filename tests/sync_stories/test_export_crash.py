"""The worker process is killed (SIGKILL) mid-export, right after Jira applied a bulk create
and before the process heard the answer; a restarted worker resumes the durable export and
finishes it. Exactly one issue per item, none missing, the export's history complete. Runs on
SQLite and PostgreSQL, Cloud and Data Center, against the simulator on loopback."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Literal

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from jirabridge.sim.app import SimConfig
from jirabridge.sim.server import running_sim
from jirabridge.store.accounts import UserRepository
from jirabridge.store.db import read_transaction, session_factory, write_transaction
from jirabridge.store.export_models import ExportItemRow, StoryExportRow
from jirabridge.sync.stories import ExportProfile, parse_stories, plan_export
from jirabridge.sync.stories.jobs import record_export

from .test_export_sim import many

WORKER = Path(__file__).with_name("crash_export_worker.py")
BOUND_SEC = 180  # turns a hang into a failure; measures nothing


def stamped(app: object) -> dict[str, int]:
    counts: dict[str, int] = {}
    for issue in app.state.sim.site.issues.values():  # type: ignore[attr-defined]
        value = issue.properties.get("jirabridge.external-id")
        if isinstance(value, dict) and "externalId" in value:
            key = str(value["externalId"])
            counts[key] = counts.get(key, 0) + 1
    return counts


@pytest.mark.slow
@pytest.mark.parametrize("flavor", ["cloud", "datacenter"])
async def test_killed_export_resumes_with_exactly_one_issue_per_item(
    migrated_database_url: str,
    jobs_database_url: str,
    engine: AsyncEngine,
    tmp_path: Path,
    flavor: Literal["cloud", "datacenter"],
) -> None:
    sessions = session_factory(engine)
    async with write_transaction(sessions) as session:
        owner = await UserRepository(session).create(email="ada@example.com", password_hash=None)
        owner_id = owner.id
    with running_sim(SimConfig(seed=21, flavor=flavor)) as (sim_url, app):
        runtime = app.state.sim
        project = next(iter(runtime.site.projects.values())).key
        profile = ExportProfile(namespace="crash", project=project, flavor=flavor)
        # 3 epics (one bulk call) and 120 stories (50 + 50 + 20): killed after the second.
        plan = plan_export(parse_stories(many(3, 40), "yaml"), profile)
        export_id = await record_export(
            sessions,
            plan,
            owner_user_id=owner_id,
            actor_user_id=owner_id,
            connection_id="crash-connection",
            site="crash-site",
            base_url=sim_url,
            profile_id=None,
            profile_name="crash",
            file_name="many.yaml",
            file_hash="0" * 64,
        )
        config = {
            "app_db": migrated_database_url,
            "jobs_db": jobs_database_url,
            "sim_url": sim_url,
            "email": runtime.admin_email,
            "token": runtime.admin_token,
            "site": "crash-site",
            "export_id": export_id,
            "kill_after": 2,
            "flavor": flavor,
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
        # Killed after the first chunk of stories was applied and before its answer counted.
        assert sum(stamped(app).values()) == 53
        async with read_transaction(sessions) as session:
            row = await session.get(StoryExportRow, export_id)
            assert row is not None
            assert row.status == "running"

        resumed = subprocess.run(
            [*command, "resume", str(config_path)],
            env=env,
            capture_output=True,
            text=True,
            timeout=BOUND_SEC,
            check=False,
        )
        assert resumed.returncode == 0, resumed.stderr
        counts = json.loads(resumed.stdout.strip().splitlines()[-1])
        assert counts == {"created": 123}
        issues = stamped(app)
        assert len(issues) == 123
        assert all(n == 1 for n in issues.values()), issues
        async with read_transaction(sessions) as session:
            row = await session.get(StoryExportRow, export_id)
            items = (
                (
                    await session.execute(
                        select(ExportItemRow).where(ExportItemRow.export_id == export_id)
                    )
                )
                .scalars()
                .all()
            )
        assert row is not None
        assert row.status == "finished"
        assert {i.outcome for i in items} == {"created"}
        keys = [i.jira_key for i in items]
        assert len(set(keys)) == 123
        assert None not in keys
