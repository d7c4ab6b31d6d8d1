"""The offline CLI helpers: keys explain, triage check and dry-run."""

from __future__ import annotations

from pathlib import Path

import typer
from typer.testing import CliRunner

from jirabridge.cli import devlinks

FIXTURES = Path(__file__).parents[1] / "fixtures" / "webhooks"
runner = CliRunner()


def _app() -> typer.Typer:
    app = typer.Typer()
    devlinks.register(app)
    return app


def test_keys_explain_shows_each_decision() -> None:
    result = runner.invoke(_app(), ["keys", "explain", "DEMO-1 fixes CVE-2024-1234 in utf-8"])
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert lines[0] == "✔ DEMO-1 (at 0-6): accepted"
    assert any(line.startswith("✘ CVE-2024") for line in lines)
    allow = runner.invoke(_app(), ["keys", "explain", "-p", "WEB", "DEMO-1 WEB-2"])
    assert "✘ DEMO-1 (at 0-6): rejected: project is not in the allow-list" in allow.output


def test_triage_check_reports_lines(tmp_path: Path) -> None:
    bad = tmp_path / "rules.yaml"
    bad.write_text("rules:\n  - name: a\n    actions: {assign: {team: x}}\n")
    result = runner.invoke(_app(), ["triage", "check", str(bad)])
    assert result.exit_code == 1
    assert f"{bad}:3: team 'x' is not defined" in result.output


def test_triage_dry_run_on_a_github_fixture(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        "rules:\n  - name: bugs\n    match: {labels: [bug]}\n    actions: {add_labels: [triaged]}\n"
    )
    event = FIXTURES / "github" / "issues.opened.json"
    result = runner.invoke(_app(), ["triage", "dry-run", str(rules), str(event), "--label", "bug"])
    assert result.exit_code == 0, result.output
    assert "rule 'bugs' (line 2) matches: label bug" in result.output
    assert "-> add_labels triaged [rule 'bugs']" in result.output
