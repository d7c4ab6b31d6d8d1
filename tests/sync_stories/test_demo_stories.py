"""The demo's stories: a sample file and a saved profile, added once; the file previews clean."""

from __future__ import annotations

from pathlib import Path

from jirabridge.cli.accounts_common import accounts_context
from jirabridge.cli.demo_stories import DEMO_PROFILE, seed_demo_stories
from jirabridge.service.settings import load_settings
from jirabridge.service.stories import StoriesService
from jirabridge.store.secrets import generate_key
from jirabridge.sync.stories import parse_stories


async def test_demo_stories_are_seeded_once(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path, environment="test", encryption_keys=generate_key())
    async with accounts_context(settings) as ctx:
        user = await ctx.accounts.create_user(email="a@demo.test", password="long password 1")
    path = await seed_demo_stories(settings, email="a@demo.test", project="DEMO")
    again = await seed_demo_stories(settings, email="a@demo.test", project="DEMO")
    assert again == path
    stories = parse_stories(path.read_text(encoding="utf-8"), "yaml")
    assert stories.ok, stories.problems
    assert (len(stories.epics), len(stories.stories)) == (2, 4)
    async with accounts_context(settings) as ctx:
        profiles = await StoriesService(ctx.sessions, ctx.clients).list_profiles(user.id)
    assert [(p["name"], p["settings"]["project"]) for p in profiles] == [(DEMO_PROFILE, "DEMO")]
