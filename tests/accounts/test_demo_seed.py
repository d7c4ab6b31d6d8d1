"""The demo's seed: an admin that can log in and a tested connection to the simulator;
running it again changes nothing but follows the simulator to its new address."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from jirabridge.cli.demo_accounts import seed_demo_accounts
from jirabridge.service.account_wiring import build_accounts_context
from jirabridge.service.settings import load_settings
from jirabridge.sim.app import SimConfig, create_sim_app
from jirabridge.sim.server import serve_in_thread
from jirabridge.store.db import session_factory

from .test_cli import KEY_OLD


async def test_seed_is_idempotent_and_works(
    tmp_path: Path, migrated_database_url: str, engine: AsyncEngine
) -> None:
    settings = load_settings(
        data_dir=tmp_path,
        database_url=migrated_database_url,
        environment="test",
        allow_private_jira_urls=True,
        encryption_keys=KEY_OLD,
    )
    sim = create_sim_app(SimConfig())
    runtime = sim.state.sim
    with serve_in_thread(sim) as sim_url:
        first = await seed_demo_accounts(
            settings, sim_url=sim_url, sim_email=runtime.admin_email, sim_token=runtime.admin_token
        )
    assert first.connection_ok, first.message
    sim2 = create_sim_app(SimConfig())
    with serve_in_thread(sim2) as moved_url:
        second = await seed_demo_accounts(
            settings,
            sim_url=moved_url,
            sim_email=sim2.state.sim.admin_email,
            sim_token=sim2.state.sim.admin_token,
        )
    assert second.connection_id == first.connection_id
    assert second.connection_ok, second.message
    context = build_accounts_context(settings, session_factory(engine))
    user = await context.accounts.authenticate(first.email, first.password)
    assert user is not None
    assert user.role == "admin"
    [connection] = await context.connections.list(user.id)
    assert connection.base_url == moved_url
