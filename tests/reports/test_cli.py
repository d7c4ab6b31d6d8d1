"""``jirabridge report`` against the simulator on loopback, with the demo's report board."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from jirabridge.cli.common import EXIT_CONFIG, EXIT_ERROR
from jirabridge.cli.demo_reports import add_report_history, demo_sprint_start
from jirabridge.cli.main import app
from jirabridge.sim.app import SimConfig, SimRuntime, create_sim_app
from jirabridge.sim.seed import SeedSpec
from jirabridge.sim.server import serve_in_thread

runner = CliRunner()


@pytest.fixture(scope="module")
def sim_env() -> Iterator[dict[str, str]]:
    # Real clock, as the demo runs it: the history is placed to end just before today.
    sim = create_sim_app(SimConfig(seed_spec=SeedSpec(projects=1, issues_per_project=6, users=2)))
    runtime: SimRuntime = sim.state.sim
    board = add_report_history(runtime.site, sprint_start=demo_sprint_start(datetime.now(UTC)))
    with serve_in_thread(sim) as url:
        yield {
            "JIRA_URL": url,
            "JIRA_EMAIL": runtime.admin_email,
            "JIRA_TOKEN": runtime.admin_token,
            "BOARD": str(board),
        }


def _run(env: dict[str, str], tmp_path: Path, *args: str) -> tuple[int, str]:
    # The shared Rich console may have been created by another test with another width.
    from jirabridge.cli.common import console

    console.width = 200
    result = runner.invoke(
        app,
        ["report", *args, "--cache-dir", str(tmp_path)]
        if args[0] == "sprint"
        else ["report", *args],
        env={**{k: v for k, v in env.items() if k != "BOARD"}, "COLUMNS": "200"},
    )
    # Success: what was printed on stdout (logs go to stderr); failure: the whole output.
    return result.exit_code, result.stdout if result.exit_code == 0 else result.output


def test_json_numbers_match_the_hand_computed_ones(sim_env: dict[str, str], tmp_path: Path) -> None:
    code, out = _run(sim_env, tmp_path, "sprint", "--board", sim_env["BOARD"], "--format", "json")
    assert code == 0, out
    data = json.loads(out)
    a, b = data["sprints"]
    assert a["points"] == {
        "committed": 21,
        "added": 3,
        "removed": 5,
        "estimate_change": 6,
        "completed": 16,
        "not_completed": 9,
    }
    assert [p["remaining_points"] for p in a["burndown"]] == [21, 21, 22, 17, 17, 14, 13, 9, 9]
    assert b["points"]["committed"] == 9
    assert b["points"]["completed"] == 5
    assert data["velocity"]["average_completed"] == 10.5
    assert data["velocity"]["trend"] == -11
    assert data["cycle_time"]["p50"] == 1.125
    assert data["cycle_time"]["skipped"] == ["RPT-9"]


def test_csv_per_sprint_and_per_issue(sim_env: dict[str, str], tmp_path: Path) -> None:
    code, out = _run(sim_env, tmp_path, "sprint", "-b", sim_env["BOARD"], "-f", "csv", "-n", "1")
    assert code == 0, out
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [(r["sprint"], r["committed"], r["completed"]) for r in rows] == [
        ("RPT Sprint B", "9", "5")
    ]
    code, out = _run(sim_env, tmp_path, "sprint", "-b", sim_env["BOARD"], "-f", "csv", "--issues")
    assert code == 0, out
    rows = list(csv.DictReader(io.StringIO(out)))
    removed_a = sorted(
        r["key"] for r in rows if r["sprint"] == "RPT Sprint A" and r["list"] == "removed"
    )
    assert removed_a == ["RPT-3", "RPT-6"]


def test_table(sim_env: dict[str, str], tmp_path: Path) -> None:
    code, out = _run(sim_env, tmp_path, "sprint", "--board", sim_env["BOARD"])
    assert code == 0, out
    assert "RPT Sprint A" in out
    assert "RPT Sprint B" in out
    assert "average completed 10.5" in out
    assert "trend -11 points/sprint" in out


def test_boards(sim_env: dict[str, str], tmp_path: Path) -> None:
    code, out = _run(sim_env, tmp_path, "boards")
    assert code == 0, out
    assert "RPT board" in out


def test_errors_are_sentences(sim_env: dict[str, str], tmp_path: Path) -> None:
    code, out = _run(sim_env, tmp_path, "sprint", "--board", "999")
    assert code == EXIT_ERROR
    assert "board 999 does not exist" in out
    code, out = _run(sim_env, tmp_path, "sprint", "--board", sim_env["BOARD"], "--tz", "Mars/Base")
    assert code == EXIT_ERROR
    assert "unknown time zone" in out
    code, out = _run(
        sim_env, tmp_path, "sprint", "--board", sim_env["BOARD"], "--sprint", "1", "--last", "2"
    )
    assert code == EXIT_ERROR
    assert "not both" in out
    code, out = _run({"BOARD": "1"}, tmp_path, "sprint", "--board", "1")
    assert code == EXIT_CONFIG
    assert "JIRA_URL" in out
