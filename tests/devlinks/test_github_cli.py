"""``jirabridge github``: connections add, list, test and remove; backfill's clear refusals."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from typer.testing import CliRunner

from jirabridge.cli.main import app
from jirabridge.store.secrets import generate_key

from support.processes import free_port

runner = CliRunner()
KEY = generate_key()
TOKEN = "ghp_cli_token_never_printed_0123456789"


@pytest.fixture
def env(tmp_path: Path, migrated_database_url: str, engine: AsyncEngine) -> dict[str, str]:
    return {
        "JIRABRIDGE_DATA_DIR": str(tmp_path),
        "JIRABRIDGE_DATABASE_URL": migrated_database_url,
        "JIRABRIDGE_ENCRYPTION_KEYS": KEY,
        "JIRABRIDGE_ENVIRONMENT": "test",
        # Nothing listens there: the test command must fail cleanly, not hang or trace back.
        "JIRABRIDGE_GITHUB_API_URL": f"http://127.0.0.1:{free_port()}",
        "JIRABRIDGE_GITHUB_TOKEN": TOKEN,
    }


def run(args: list[str], env: dict[str, str], code: int = 0) -> str:
    result = runner.invoke(app, args, env=env)
    assert result.exit_code == code, result.output
    assert TOKEN not in result.output
    return result.output


def test_github_connections_lifecycle(env: dict[str, str]) -> None:
    run(["users", "create", "--email", "g@x.io", "--password", "long password 1"], env)
    user = ["--user", "g@x.io"]
    out = run(
        ["github", "connections", "add", *user, "--name", "Octo", "--repo", "octo/hello"], env
    )
    found = re.search(r"saved GitHub connection (\S+)", out)
    assert found is not None
    connection_id = found.group(1)
    assert re.search(r"webhook URL:\s+http://\S+/webhooks/github/\S+", out)
    assert re.search(r"webhook secret:\s+\S{32,}", out)

    assert f"{connection_id}  Octo  token  octo/hello" in run(
        ["github", "connections", "list", *user], env
    )
    failed = run(["github", "connections", "test", *user, connection_id], env, code=1)
    assert "GitHub could not be reached" in failed

    bad = run(
        ["github", "connections", "add", *user, "--name", "X", "--repo", "not a repo"], env, code=1
    )
    assert "owner/name" in bad
    refused = run(["github", "backfill", *user, "octo/other", "--months", "3"], env, code=1)
    assert "no GitHub connection of g@x.io has octo/other selected" in refused

    assert "removed GitHub connection Octo" in run(
        ["github", "connections", "remove", *user, connection_id], env
    )
    assert "no GitHub connections" in run(["github", "connections", "list", *user], env)
    run(["github", "connections", "remove", *user, connection_id], env, code=1)


def test_team_connections_are_shared_by_members_only(env: dict[str, str]) -> None:
    for email in ("g@x.io", "h@x.io", "out@x.io"):
        run(["users", "create", "--email", email, "--password", "long password 1"], env)
    for email in ("g@x.io", "h@x.io"):
        run(["users", "add-to-team", "--email", email, "--team", "platform"], env)
    team = ["--team", "platform"]
    add = ["github", "connections", "add", "--user", "g@x.io", *team, "--name", "Shared"]
    out = run([*add, "--repo", "octo/hello"], env)
    found = re.search(r"saved GitHub connection (\S+)", out)
    assert found is not None
    # Another member sees it under the team; it is not anyone's own connection.
    assert "Shared" in run(["github", "connections", "list", "--user", "h@x.io", *team], env)
    assert "no GitHub connections" in run(
        ["github", "connections", "list", "--user", "g@x.io"], env
    )
    outsider = run(["github", "connections", "list", "--user", "out@x.io", *team], env, code=1)
    assert "out@x.io is not a member of a team named 'platform'" in outsider
    run(["github", "connections", "remove", "--user", "out@x.io", found.group(1)], env, code=1)
    assert "removed GitHub connection Shared" in run(
        ["github", "connections", "remove", "--user", "h@x.io", *team, found.group(1)], env
    )
