"""The demo's GitHub-and-Jira rows: added once, for the demo user only."""

from __future__ import annotations

from pathlib import Path

from jirabridge.cli.accounts_common import accounts_context
from jirabridge.cli.demo_devlinks import seed_demo_devlinks
from jirabridge.service.settings import load_settings
from jirabridge.store.devlinks import DevLinkStore
from jirabridge.store.github_connections import GitHubConnectionStore
from jirabridge.store.secrets import generate_key


async def test_demo_rows_are_seeded_once(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path, environment="test", encryption_keys=generate_key())
    async with accounts_context(settings) as ctx:
        user = await ctx.accounts.create_user(email="a@demo.test", password="long password 1")
    keys = ["DEMO-1", "DEMO-2"]
    assert await seed_demo_devlinks(settings, email="a@demo.test", keys=keys) == 2
    assert await seed_demo_devlinks(settings, email="a@demo.test", keys=keys) == 0
    async with accounts_context(settings) as ctx:
        store = DevLinkStore(ctx.sessions, f"user:{user.id}")
        assert {link.issue_key for link in await store.links()} == {"DEMO-1", "DEMO-2"}
        assert [c.done for c in await store.cursors()] == [True]
        assert len(await store.triage_log()) == 1
        (connection,) = await GitHubConnectionStore(
            ctx.sessions, ctx.secrets.box, f"user:{user.id}"
        ).list()
        assert connection.repos == ("demo-org/demo-app",)
        assert connection.webhook_endpoint_id is not None
