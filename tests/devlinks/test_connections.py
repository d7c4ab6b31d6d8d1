"""GitHub connections: encrypted secrets, owner scoping, repository selection, webhook set-up."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from devlinks.conftest import make_owner
from github.conftest import TOKEN, FakeGitHub
from jirabridge.errors import NotFoundError, ValidationError
from jirabridge.github import GitHubClient
from jirabridge.http import FakeClock
from jirabridge.store.db import session_factory
from jirabridge.store.github_connections import GitHubConnectionStore
from jirabridge.store.secrets import SecretBox, generate_key
from jirabridge.sync.devlinks.webhook_setup import set_up_webhooks

SECRET = "ghp_supersecret_token_value_123"


@pytest.fixture
async def gh() -> AsyncIterator[tuple[FakeGitHub, GitHubClient]]:
    fake = FakeGitHub()
    async with GitHubClient(token=TOKEN, transport=fake.transport(), clock=FakeClock()) as client:
        yield fake, client


async def test_connections_are_encrypted_and_scoped(engine: AsyncEngine) -> None:
    box = SecretBox([generate_key()])
    sessions = session_factory(engine)
    team = GitHubConnectionStore(sessions, box, await make_owner(engine, "team", "t1"))
    other = GitHubConnectionStore(sessions, box, await make_owner(engine, "team", "t2"))
    conn, hook_secret = await team.create(
        name="Octo", kind="token", secret=SECRET, repos=["octo/hello"], project_keys=["demo"]
    )
    assert conn.project_keys == ("DEMO",)
    assert SECRET not in repr(conn)
    assert await team.secret(conn.id) == SECRET
    assert await team.webhook_secret(conn.id) == hook_secret
    async with engine.connect() as db:
        stored = (await db.execute(text("SELECT secret_ciphertext FROM github_connections"))).all()
    assert SECRET not in stored[0][0]

    with pytest.raises(NotFoundError):
        await other.get(conn.id)
    with pytest.raises(NotFoundError):
        await other.secret(conn.id)
    assert await other.list() == []

    updated = await team.select_repos(conn.id, ["octo/hello", "octo/web"])
    assert updated.repos == ("octo/hello", "octo/web")
    with pytest.raises(ValidationError, match="owner/name"):
        await team.select_repos(conn.id, ["not a repo"])
    with pytest.raises(ValidationError, match="App id"):
        await team.create(name="App", kind="app", secret="key", repos=[])


async def test_webhooks_are_created_where_allowed_else_explained(
    gh: tuple[FakeGitHub, GitHubClient],
) -> None:
    fake, client = gh
    results = await set_up_webhooks(
        client, ["octo/hello", "octo/private"], url="https://jb.example/hooks/github", secret="s3"
    )
    created, manual = results
    assert created.status == "created"
    assert created.hook_id in fake.hooks
    hook = fake.hooks[created.hook_id]
    assert hook["config"]["url"] == "https://jb.example/hooks/github"
    assert sorted(hook["events"]) == ["issues", "pull_request", "push"]
    assert manual.status == "manual"
    assert manual.instructions is not None
    assert "Secret to s3" in manual.instructions
    assert "s3" not in repr(manual)
