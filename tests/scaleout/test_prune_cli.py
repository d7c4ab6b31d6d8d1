"""``jirabridge prune``: one retention pass from the command line."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from jirabridge.cli.main import app

runner = CliRunner()


def test_prune_runs_one_pass_on_a_fresh_data_dir(tmp_path: Path) -> None:
    result = runner.invoke(app, ["prune", "--data-dir", str(tmp_path), "--workflow-days", "7"])
    assert result.exit_code == 0, result.output
    assert "deleted 0 workflows, 0 sessions, 0 OAuth states, 0 pending grants" in result.output


def test_prune_refuses_a_non_positive_limit(tmp_path: Path) -> None:
    result = runner.invoke(app, ["prune", "--data-dir", str(tmp_path), "--workflow-days", "0"])
    assert result.exit_code != 0
    assert "retention_workflow_days" in result.output
