"""The command line: version, bad arguments and an unreachable database: a sentence, a code."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from jirabridge import __version__
from jirabridge.cli.common import EXIT_CONFIG, EXIT_UNAVAILABLE
from jirabridge.cli.main import app

from support.processes import free_port

runner = CliRunner()


def test_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"jirabridge {__version__}"


def test_console_script_entry_point_runs() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "jirabridge.cli", "--version"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert __version__ in out.stdout


def test_bad_port_is_a_usage_error() -> None:
    result = runner.invoke(app, ["serve", "--port", "70000"])
    assert result.exit_code == 2
    assert "65535" in result.output


def test_unreachable_database_exits_with_a_sentence(tmp_path: Path) -> None:
    # A loopback port with nothing listening: refused at once, no network involved.
    url = f"postgresql://postgres@127.0.0.1:{free_port()}/nothing"
    result = runner.invoke(
        app, ["serve", "--data-dir", str(tmp_path), "--database-url", url], catch_exceptions=False
    )
    assert result.exit_code == EXIT_UNAVAILABLE
    assert "Unavailable" in result.output
    assert "Traceback" not in result.output


def test_db_upgrade_with_a_bad_url_scheme_is_a_config_error(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["db", "upgrade", "--data-dir", str(tmp_path), "--database-url", "mysql://x/y"]
    )
    assert result.exit_code == EXIT_CONFIG, result.output


def test_db_upgrade_creates_the_schema(tmp_path: Path) -> None:
    result = runner.invoke(app, ["db", "upgrade", "--data-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "jirabridge.sqlite").exists()
