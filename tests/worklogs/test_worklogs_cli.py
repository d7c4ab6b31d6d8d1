"""``jirabridge worklogs``: import, list, and sync --dry-run printing exactly the plan that
sync then carries out, against a loopback simulator."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from jirabridge.cli.main import app
from jirabridge.sim.app import SimConfig
from jirabridge.sim.server import running_sim
from jirabridge.store.secrets import generate_key

from .conftest import open_issue_keys

runner = CliRunner()


@pytest.fixture
def sim() -> Iterator[tuple[str, Any]]:
    with running_sim(SimConfig(seed=4)) as (base, sim_app):
        yield base, sim_app


@pytest.fixture
def env(tmp_path: Path, migrated_database_url: str) -> dict[str, str]:
    return {
        "JIRABRIDGE_DATA_DIR": str(tmp_path),
        "JIRABRIDGE_DATABASE_URL": migrated_database_url,
        "JIRABRIDGE_ENCRYPTION_KEYS": generate_key(),
        "JIRABRIDGE_ALLOW_PRIVATE_JIRA_URLS": "true",
        "JIRABRIDGE_ENVIRONMENT": "test",
    }


def run(args: list[str], env: dict[str, str], code: int = 0) -> str:
    result = runner.invoke(app, args, env=env)
    assert result.exit_code == code, result.output
    return result.output


@pytest.mark.slow
def test_import_then_dry_run_then_sync_carries_out_the_printed_plan(
    env: dict[str, str], sim: tuple[str, Any], tmp_path: Path
) -> None:
    base, sim_app = sim
    runtime = sim_app.state.sim
    keys = open_issue_keys(sim_app, 2)
    run(["users", "create-admin", "--email", "ada@x.io", "--password", "long password 1"], env)
    user = ["--user", "ada@x.io"]
    run(
        [
            "connections",
            "add",
            *user,
            "--url",
            base,
            "--email",
            runtime.admin_email,
            "--secret",
            runtime.admin_token,
        ],
        env,
    )
    csv_file = tmp_path / "time.csv"
    csv_file.write_text(
        "started_at,duration_minutes,time_zone,notes,issue_key\n"
        f"2026-11-18T09:00:00+01:00,30,Europe/Berlin,one,{keys[0]}\n"
        f"2026-11-19T09:00:00+01:00,45,Europe/Berlin,two,{keys[1]}\n"
        "2026-11-19T11:00:00+01:00,0,Europe/Berlin,empty,NOPE-1\n"
        "2026-11-10T09:00:00+01:00,60,Europe/Berlin,old,\n"
    )
    out = run(["worklogs", "import", *user, str(csv_file)], env)
    assert "imported 4 record(s)" in out
    before = len(runtime.site.worklog_index)
    plan = run(["worklogs", "sync", *user, "--since", "2026-11-15", "--dry-run"], env)
    lines = [line for line in plan.splitlines() if line.strip()]
    assert [line.split()[0] for line in lines[:-1]] == ["create", "create", "error"]
    assert "2026-11-18T09:00:00+01:00 30 min" in lines[0]
    assert "3 record(s)" in lines[-1]
    assert len(runtime.site.worklog_index) == before  # a dry run writes nothing
    applied = run(["worklogs", "sync", *user, "--since", "2026-11-15"], env, code=1)
    # The same plan is printed first, then carried out.
    assert applied.startswith(plan)
    assert "done: 2 succeeded, 1 failed of 3" in applied
    assert "0 minutes" in applied
    assert len(runtime.site.worklog_index) == before + 2
    listing = run(["worklogs", "list", *user], env)
    assert listing.count("\tsynced\t") == 2
    again = run(["worklogs", "sync", *user, "--since", "2026-11-15", "--dry-run"], env)
    assert "create" not in again
