"""``jirabridge webhooks``: create an endpoint, list, receive, process, dead-letter, replay."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from typer.testing import CliRunner

from jirabridge.cli.main import app
from jirabridge.github.webhooks import github_signature
from jirabridge.service.webhook_intake import WebhookIntake
from jirabridge.store.db import make_engine, session_factory
from jirabridge.store.secrets import SecretBox, generate_key
from jirabridge.store.webhook_models import WebhookSource

from .conftest import FIXTURES

runner = CliRunner()
KEY = generate_key()


@pytest.fixture
def env(tmp_path: Path, migrated_database_url: str, engine: AsyncEngine) -> dict[str, str]:
    return {
        "JIRABRIDGE_DATA_DIR": str(tmp_path),
        "JIRABRIDGE_DATABASE_URL": migrated_database_url,
        "JIRABRIDGE_ENCRYPTION_KEYS": KEY,
        "JIRABRIDGE_ENVIRONMENT": "test",
    }


def run(args: list[str], env: dict[str, str], code: int = 0) -> str:
    result = runner.invoke(app, args, env=env)
    assert result.exit_code == code, result.output
    return result.output


def _deliver(url: str, endpoint_id: str, secret: str) -> None:
    async def go() -> None:
        engine = make_engine(url)
        try:
            intake = WebhookIntake(session_factory(engine), SecretBox([KEY]))
            body = (FIXTURES / "github" / "ping.json").read_bytes()
            headers = {
                "X-GitHub-Event": "ping",
                "X-GitHub-Delivery": "cli-1",
                "X-Hub-Signature-256": github_signature(body, secret),
            }
            await intake.receive(WebhookSource.GITHUB, endpoint_id, headers, body)
        finally:
            await engine.dispose()

    asyncio.run(go())


def test_webhooks_cli_lifecycle(env: dict[str, str], migrated_database_url: str) -> None:
    run(["users", "create", "--email", "u@x.io", "--password", "long password 1"], env)
    out = run(["webhooks", "create", "--user", "u@x.io", "--name", "gh", "--source", "github"], env)
    url = re.search(r"URL:\s+(\S+)", out)
    secret = re.search(r"secret:\s+(\S+)", out)
    assert url is not None
    assert secret is not None
    endpoint_id = url.group(1).rsplit("/", 1)[1]
    assert "/webhooks/github/" in url.group(1)
    assert "Settings > Webhooks" in out

    listed = run(["webhooks", "endpoints", "--user", "u@x.io"], env)
    assert endpoint_id in listed
    assert "last event: never" in listed

    _deliver(migrated_database_url, endpoint_id, secret.group(1))
    assert "last event: never" not in run(["webhooks", "endpoints", "--user", "u@x.io"], env)
    assert "cli-1  pending" in run(["webhooks", "deliveries", "--user", "u@x.io"], env)
    # No handler is registered for github:ping here: processing just marks it done.
    assert "done 1" in run(["webhooks", "process"], env)
    assert "cli-1  done  attempts=1" in run(["webhooks", "deliveries", "--user", "u@x.io"], env)
    assert run(["webhooks", "deliveries", "--user", "u@x.io", "--dead"], env).strip() == ""
    assert "queued 0" in run(["webhooks", "replay", "--user", "u@x.io"], env)
    assert "queued 1" in run(["webhooks", "replay", "--user", "u@x.io", "1"], env)
    assert "no user" in run(["webhooks", "endpoints", "--user", "nobody@x.io"], env, code=1)
