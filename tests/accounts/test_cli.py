"""The CLI: users create-admin, connections add|list|test|remove against a loopback
simulator, secrets rotate keeping every connection working."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from typer.testing import CliRunner

from jirabridge.cli.main import app
from jirabridge.sim.app import SimConfig, SimRuntime, create_sim_app
from jirabridge.store.secrets import generate_key

from .fake_atlassian import serve

runner = CliRunner()
KEY_OLD = generate_key()
KEY_NEW = generate_key()


@pytest.fixture
def sim_url() -> Iterator[tuple[str, SimRuntime]]:
    sim = create_sim_app(SimConfig())
    with serve(sim) as base:
        yield base, sim.state.sim


@pytest.fixture
def env(tmp_path: Path, migrated_database_url: str, engine: AsyncEngine) -> dict[str, str]:
    return {
        "JIRABRIDGE_DATA_DIR": str(tmp_path),
        "JIRABRIDGE_DATABASE_URL": migrated_database_url,
        "JIRABRIDGE_ENCRYPTION_KEYS": KEY_OLD,
        "JIRABRIDGE_ALLOW_PRIVATE_JIRA_URLS": "true",
        "JIRABRIDGE_ENVIRONMENT": "test",
    }


def run(args: list[str], env: dict[str, str], code: int = 0) -> str:
    result = runner.invoke(app, args, env=env)
    assert result.exit_code == code, result.output
    return result.output


def test_create_admin_is_idempotent(env: dict[str, str]) -> None:
    out = run(
        ["users", "create-admin", "--email", "Admin@x.io", "--password", "long password 1"], env
    )
    assert "created admin admin@x.io" in out
    out = run(
        ["users", "create-admin", "--email", "admin@x.io", "--password", "long password 1"], env
    )
    assert "already exists" in out
    out = run(["users", "create-admin", "--email", "b@x.io", "--password", "short"], env, code=1)
    assert "at least" in out


@pytest.mark.slow
def test_connections_lifecycle_and_rotation(
    env: dict[str, str], sim_url: tuple[str, SimRuntime]
) -> None:
    base, sim = sim_url
    run(["users", "create-admin", "--email", "admin@x.io", "--password", "long password 1"], env)
    common = ["--user", "admin@x.io"]
    out = run(
        [
            "connections",
            "add",
            *common,
            "--url",
            base,
            "--email",
            sim.admin_email,
            "--secret",
            "wrong",
        ],
        env,
        code=1,
    )
    assert "nothing was saved" in out
    out = run(
        [
            "connections",
            "add",
            *common,
            "--url",
            base,
            "--email",
            sim.admin_email,
            "--secret",
            sim.admin_token,
            "--name",
            "Sim",
        ],
        env,
    )
    assert "test ok" in out
    match = re.search(r"saved connection ([0-9a-f-]{36})", out)
    assert match
    cid = match.group(1)
    assert sim.admin_token not in out
    listing = run(["connections", "list", *common], env)
    assert cid in listing
    assert "ok" in listing
    assert "ok:" in run(["connections", "test", *common, cid], env)
    # Another user cannot see or remove it.
    run(["users", "create", "--email", "m@x.io", "--password", "long password 2"], env)
    run(["connections", "test", "--user", "m@x.io", cid], env, code=1)

    rotating = {**env, "JIRABRIDGE_ENCRYPTION_KEYS": f"{KEY_NEW},{KEY_OLD}"}
    assert "re-encrypted 1 secrets" in run(["secrets", "rotate"], rotating)
    new_only = {**env, "JIRABRIDGE_ENCRYPTION_KEYS": KEY_NEW}
    assert "ok:" in run(["connections", "test", *common, cid], new_only)
    old_only = run(["connections", "test", *common, cid], env, code=1)
    assert "FAILED" in old_only
    run(["connections", "remove", *common, cid], new_only)
    assert cid not in run(["connections", "list", *common], new_only)


def test_add_to_team_shares_connections(env: dict[str, str]) -> None:
    run(["users", "create", "--email", "a@x.io", "--password", "long password 1"], env)
    run(["users", "create", "--email", "b@x.io", "--password", "long password 2"], env)
    first = run(["users", "add-to-team", "--email", "a@x.io", "--team", "Platform"], env)
    second = run(["users", "add-to-team", "--email", "b@x.io", "--team", "Platform"], env)
    team_id = re.search(r"\(([0-9a-f-]{36})\)", first)
    assert team_id
    assert team_id.group(1) in second
    out = run(["users", "add-to-team", "--email", "nobody@x.io", "--team", "Platform"], env, 1)
    assert "no user" in out


def test_generate_key_prints_a_fernet_key() -> None:
    from cryptography.fernet import Fernet

    key = run(["secrets", "generate-key"], {}).strip()
    Fernet(key)
