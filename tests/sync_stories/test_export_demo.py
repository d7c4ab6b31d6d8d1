"""`make demo`'s finished export, seeded once, against a simulator served on loopback as the
demo runs it (the sample file and profile: test_demo_stories.py)."""

from __future__ import annotations

from pathlib import Path

from jirabridge.cli.accounts_common import accounts_context, user_by_email
from jirabridge.cli.demo_accounts import seed_demo_accounts
from jirabridge.cli.demo_stories import seed_demo_export, seed_demo_stories
from jirabridge.service.settings import load_settings
from jirabridge.service.stories import StoriesService
from jirabridge.sim.app import SimConfig
from jirabridge.sim.server import running_sim
from jirabridge.store.secrets import generate_key


async def test_demo_stories_are_seeded_once(tmp_path: Path) -> None:
    settings = load_settings(
        data_dir=tmp_path,
        environment="test",
        encryption_keys=generate_key(),
        allow_private_jira_urls=True,
    )
    with running_sim(SimConfig(frozen_at=1_795_000_000.0)) as (sim_url, sim_app):
        sim = sim_app.state.sim
        login = await seed_demo_accounts(
            settings, sim_url=sim_url, sim_email=sim.admin_email, sim_token=sim.admin_token
        )
        await seed_demo_stories(settings, email=login.email, project="DEMO")
        export_id = await seed_demo_export(settings, email=login.email)
        again = await seed_demo_export(settings, email=login.email)
        stamped = [i for i in sim.site.issues.values() if "jirabridge.external-id" in i.properties]
    assert export_id is not None
    assert again is None  # seeded once
    async with accounts_context(settings) as ctx:
        user = await user_by_email(ctx, login.email)
        export = await StoriesService(ctx.sessions, ctx.clients).get_export(user.id, export_id)
    assert export["status"] == "finished"
    assert export["counts"] == {"created": 3}
    assert all(i["url"] and i["url"].startswith(sim_url) for i in export["items"])
    assert len(stamped) == 3
