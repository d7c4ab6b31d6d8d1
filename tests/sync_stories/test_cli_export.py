"""``jirabridge export``: profiles, a dry-run printing the plan, the export (through the same
service as the REST API, recorded in history), problems exiting non-zero, and rollback —
against a loopback simulator, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from jirabridge.cli.export import load_mapping
from jirabridge.cli.main import app
from jirabridge.errors import ValidationError
from jirabridge.sim.app import SimConfig
from jirabridge.sim.server import running_sim
from jirabridge.store.secrets import generate_key
from jirabridge.sync.stories import jobs as story_jobs

from .test_export_sim import YAML

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


USER = ["--user", "ada@x.io"]


@pytest.fixture
def setup(env: dict[str, str], sim: tuple[str, Any], tmp_path: Path) -> tuple[Path, Path, Any]:
    base, sim_app = sim
    runtime = sim_app.state.sim
    run(["users", "create-admin", "--email", "ada@x.io", "--password", "long password 1"], env)
    run(
        [
            "connections",
            "add",
            *USER,
            "--url",
            base,
            "--email",
            runtime.admin_email,
            "--secret",
            runtime.admin_token,
        ],
        env,
    )
    stories = tmp_path / "stories.yaml"
    stories.write_text(YAML, encoding="utf-8")
    profile = tmp_path / "profile.yaml"
    profile.write_text("project: DEMO\n", encoding="utf-8")
    return stories, profile, sim_app


@pytest.mark.slow
def test_profiles_dry_run_export_history_and_rollback(
    env: dict[str, str], setup: tuple[Path, Path, Any]
) -> None:
    stories, profile, sim_app = setup
    issues = sim_app.state.sim.site.issues
    saved = run(["export", "profiles", "save", "team", "--file", str(profile), *USER], env)
    assert "saved profile team (v1" in saved
    assert "team  project DEMO" in run(["export", "profiles", "list", *USER], env)

    before = len(issues)
    args = ["export", "stories", str(stories), "--profile", "team", *USER]
    dry = run([*args, "--dry-run"], env)
    assert "create    epic  E1: Checkout" in dry
    assert "plan: 3 to create, 0 to update, 0 unchanged, 0 problems" in dry
    as_json = run([*args, "--dry-run", "--json"], env)
    assert json.loads(as_json[as_json.index("{") :])["counts"]["create"] == 3
    assert len(issues) == before

    done = run(args, env)
    assert ": 3 created" in done
    assert len(issues) == before + 3
    again = run(args, env)
    assert "3 skipped" in again
    assert len(issues) == before + 3

    history = run(["export", "history", *USER, "--json"], env)
    exports = json.loads(history[history.index("[") :])
    assert [e["counts"] for e in exports] == [{"skipped": 3}, {"created": 3}]
    first = exports[1]["id"]

    plan = run(["export", "rollback", first, *USER, "--dry-run"], env)
    assert "rollback (delete) would do: 3 delete" in plan
    assert len(issues) == before + 3
    applied = run(["export", "rollback", first, *USER], env)
    assert "rollback (delete) did: 3 delete" in applied
    assert len(issues) == before


@pytest.mark.slow
def test_problems_and_bad_input_exit_with_a_sentence(
    env: dict[str, str], setup: tuple[Path, Path, Any], tmp_path: Path
) -> None:
    stories, profile, _ = setup
    stories.write_text("stories:\n  - id: S1\n    title: ''\n", encoding="utf-8")
    out = run(
        ["export", "stories", str(stories), "--profile", str(profile), *USER, "--dry-run"],
        env,
        code=1,
    )
    assert "line 2: [S1]" in out
    missing = run(["export", "stories", str(stories), "--profile", "nope", *USER], env, code=1)
    assert "no export profile named 'nope'" in missing
    bad_mode = run(["export", "rollback", "x", *USER, "--mode", "burn"], env, code=1)
    assert "--mode must be" in bad_mode
    unknown = run(["export", "rollback", "no-such-export", *USER, "--dry-run"], env, code=1)
    assert "no such export" in unknown


def test_a_bad_profile_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("- just a list\n", encoding="utf-8")
    with pytest.raises(ValidationError, match="expected a mapping"):
        load_mapping(path)


@pytest.mark.slow
def test_an_interrupted_cli_export_is_resumed_with_each_item_once(
    env: dict[str, str], setup: tuple[Path, Path, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    stories, profile, sim_app = setup
    issues = sim_app.state.sim.site.issues
    before = len(issues)
    real_record = story_jobs._record_item
    real_mark = story_jobs.mark_interrupted

    async def dies_after_jira_wrote(*args: Any) -> None:
        raise RuntimeError("power cut")  # the item is in Jira; its outcome never stored

    async def killed(*args: Any) -> None:
        return None  # a SIGKILLed process records nothing on its way out

    # 1. Killed outright: the export stays `running`, with the first chunk in Jira.
    monkeypatch.setattr(story_jobs, "_record_item", dies_after_jira_wrote)
    monkeypatch.setattr(story_jobs, "mark_interrupted", killed)
    run(["export", "stories", str(stories), "--profile", str(profile), *USER], env, code=1)
    history = run(["export", "history", *USER, "--json"], env)
    [export] = json.loads(history[history.index("[") :])
    assert export["status"] == "running"
    assert len(issues) > before

    # A running export may have a live runner: refused unless told its process is gone.
    refused = run(["export", "resume", export["id"], *USER], env, code=1)
    assert "marked running" in refused
    assert "force" in refused

    # 2. Interrupted again, this time able to say so: `failed`, with how to finish it.
    monkeypatch.setattr(story_jobs, "mark_interrupted", real_mark)
    run(["export", "resume", export["id"], *USER, "--force"], env, code=1)
    history = run(["export", "history", *USER, "--json"], env)
    [export] = json.loads(history[history.index("[") :])
    assert export["status"] == "failed"
    assert f"jirabridge export resume {export['id']}" in export["error"]

    # 3. Resumed: every item in Jira exactly once, the export finished.
    monkeypatch.setattr(story_jobs, "_record_item", real_record)
    done = run(["export", "resume", export["id"], *USER], env)
    assert f"export {export['id']}: 3 created" in done
    assert len(issues) == before + 3
    summaries = [i.summary for i in list(issues.values())[before:]]
    assert len(set(summaries)) == 3
    finished = run(["export", "resume", export["id"], *USER], env, code=1)
    assert "nothing to resume" in finished
