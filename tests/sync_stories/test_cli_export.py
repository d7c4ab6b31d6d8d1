"""``jirabridge export stories``: the dry-run prints the plan, problems exit non-zero, and the
apply path (with its progress bar) exports to the simulator."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from jirabridge.cli.export import app, load_profile, run_export
from jirabridge.errors import ValidationError
from jirabridge.store.ledger import WriteLedger

from .conftest import Site
from .test_export_sim import YAML

runner = CliRunner()


@pytest.fixture
def files(tmp_path: Path, migrated_database_url: str) -> tuple[Path, Path, str]:
    stories = tmp_path / "stories.yaml"
    stories.write_text(YAML, encoding="utf-8")
    profile = tmp_path / "profile.yaml"
    profile.write_text("namespace: team-1\nproject: DEMO\n", encoding="utf-8")
    return stories, profile, migrated_database_url


def test_dry_run_prints_the_plan(files: tuple[Path, Path, str]) -> None:
    stories, profile, url = files
    args = ["stories", str(stories), "--profile", str(profile), "--dry-run"]
    result = runner.invoke(app, [*args, "--database-url", url])
    assert result.exit_code == 0, result.output
    assert "create    epic  E1: Checkout" in result.output
    assert "plan: 3 to create, 0 to update, 0 unchanged, 0 problems" in result.output
    as_json = runner.invoke(app, [*args, "--json", "--database-url", url])
    assert json.loads(as_json.stdout)["counts"] == {"create": 3, "update": 0, "unchanged": 0}


def test_a_bad_file_exits_with_its_problems(files: tuple[Path, Path, str]) -> None:
    stories, profile, url = files
    stories.write_text("stories:\n  - id: S1\n    title: ''\n", encoding="utf-8")
    result = runner.invoke(
        app,
        ["stories", str(stories), "--profile", str(profile), "--dry-run", "--database-url", url],
    )
    assert result.exit_code == 1
    assert "line 2: [S1]" in result.output


def test_a_bad_profile_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("project: DEMO\n", encoding="utf-8")
    with pytest.raises(ValidationError, match="namespace"):
        load_profile(path)


async def test_run_export_applies_with_progress(
    site: Site, ledger: WriteLedger, tmp_path: Path
) -> None:
    stories = tmp_path / "s.yaml"
    stories.write_text(YAML, encoding="utf-8")
    _, result = await run_export(
        stories, site.profile, ledger=ledger, site="sim", jira=site.jira, dry_run=False
    )
    assert result is not None
    assert result.counts() == {"created": 3}
    again, second = await run_export(
        stories, site.profile, ledger=ledger, site="sim", jira=site.jira, dry_run=True
    )
    assert second is None
    assert again.counts() == {"create": 0, "update": 0, "unchanged": 3}
