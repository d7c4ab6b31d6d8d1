"""A backfill workflow killed (SIGKILL) right after Jira applied a write, then resumed by a
fresh process: no link, comment or worklog doubled, nothing missing, no transition fired.
Runs on SQLite and PostgreSQL against the simulator on loopback."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from devlinks.conftest import make_owner
from jirabridge.jira import JiraClient
from jirabridge.sim.app import SimConfig
from jirabridge.sim.server import running_sim
from jirabridge.store.account_models import ConnectionKind, JiraConnectionRow
from jirabridge.store.db import read_transaction, session_factory
from jirabridge.store.devlink_models import BackfillRunRow
from jirabridge.store.github_connections import GitHubConnectionStore
from jirabridge.store.secrets import SecretBox, generate_key
from jirabridge.store.worklog_models import TimeRecordRow

WORKER = Path(__file__).with_name("crash_backfill_worker.py")
BOUND_SEC = 180  # turns a hang into a failure; measures nothing


@pytest.mark.slow
async def test_killed_backfill_resumes_without_duplicates(
    migrated_database_url: str, jobs_database_url: str, engine: AsyncEngine, tmp_path: Path
) -> None:
    sessions = session_factory(engine)
    owner = await make_owner(engine, "user", "crash")
    async with sessions() as session:
        jira_row = JiraConnectionRow(
            owner_user_id=owner.split(":", 1)[1],
            name="sim",
            kind=ConnectionKind.CLOUD_TOKEN.value,
            base_url="http://sim.test",
        )
        session.add(jira_row)
        await session.commit()
        jira_connection_id = jira_row.id
    connection, _ = await GitHubConnectionStore(
        sessions, SecretBox([generate_key()]), owner
    ).create(
        name="Octo",
        kind="token",
        secret="t",
        repos=["octo/hello"],
        jira_connection_id=jira_connection_id,
    )
    with running_sim(SimConfig(seed=21)) as (sim_url, app):
        runtime = app.state.sim
        issues = sorted(i.key for i in runtime.site.issues.values() if i.status_id != "10002")[:3]
        a, b, c = issues
        email = next(
            u.email
            for u in runtime.site.users.values()
            if u.email and u.email != runtime.admin_email
        )
        pulls = [
            [f"{a} first", f"feature/{a}", [f"{a} #comment history one"]],
            [f"{b} second", "fix", [f"{b} #time 1h replayed", f"{b} #comment history two"]],
            [f"{c} third", "more", [f"{c} #comment history three #start-progress"]],
        ]
        async with JiraClient.cloud(
            sim_url, email=runtime.admin_email, api_token=runtime.admin_token
        ) as jira:
            before = {k: (await jira.get_issue(k)).fields["status"]["name"] for k in issues}
        config = {
            "app_db": migrated_database_url,
            "jobs_db": jobs_database_url,
            "sim_url": sim_url,
            "email": runtime.admin_email,
            "token": runtime.admin_token,
            "owner_key": owner,
            "connection_id": connection.id,
            "jira_connection_id": jira_connection_id,
            "author_email": email,
            "pulls": pulls,
            "kill_after": 4,
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
        resumed = subprocess.run(
            [*command, "resume", str(config_path)],
            env=env,
            capture_output=True,
            text=True,
            timeout=BOUND_SEC,
            check=False,
        )
        assert resumed.returncode == 0, resumed.stderr
        result = json.loads(resumed.stdout.strip().splitlines()[-1])
        (repo,) = result["repos"]
        assert (repo["status"], repo["processed"]) == ("done", 3)

        async with JiraClient.cloud(
            sim_url, email=runtime.admin_email, api_token=runtime.admin_token
        ) as jira:
            for key in issues:
                assert len(await jira.remote_links(key)) == 1, key
                assert (await jira.get_issue(key)).fields["status"]["name"] == before[key]
            for key, text in ((a, "history one"), (b, "history two"), (c, "history three")):
                bodies = [json.dumps(x.body) for x in await jira.comments(key)]
                assert sum(text in body for body in bodies) == 1, (key, bodies)
            worklogs = [w async for w in jira.worklogs(b)]
            assert [w.time_spent_seconds for w in worklogs].count(3600) == 1
    async with read_transaction(sessions) as session:
        run = (await session.execute(select(BackfillRunRow))).scalar_one()
        records = (await session.execute(select(TimeRecordRow))).scalars().all()
    assert run.status == "finished"
    assert [(r.issue_key, r.duration_seconds) for r in records] == [(b, 3600)]
    assert records[0].worklog_id is not None
