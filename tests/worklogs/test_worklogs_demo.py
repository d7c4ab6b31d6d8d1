"""The demo's time records: added once, with the mix the demo shows off."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from jirabridge.cli.accounts_common import accounts_context
from jirabridge.cli.demo_worklogs import seed_demo_time_records
from jirabridge.service.settings import load_settings
from jirabridge.service.worklogs import WorklogService
from jirabridge.store.secrets import generate_key
from jirabridge.store.time_records import RecordFilter


async def test_demo_records_are_seeded_once(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path, environment="test", encryption_keys=generate_key())
    async with accounts_context(settings) as ctx:
        user = await ctx.accounts.create_user(email="a@demo.test", password="long password 1")
    seed = {
        "email": "a@demo.test",
        "open_keys": ["DEMO-1", "DEMO-2", "DEMO-3"],
        "closed_key": "DEMO-9",
        "now": datetime(2026, 11, 23, tzinfo=UTC),
    }
    assert await seed_demo_time_records(settings, **seed) == 6  # type: ignore[arg-type]
    assert await seed_demo_time_records(settings, **seed) == 0  # type: ignore[arg-type]
    async with accounts_context(settings) as ctx:
        items, total = await WorklogService(ctx.sessions, ctx.clients).list_records(
            user.id, RecordFilter()
        )
    assert total == 6
    keys = {r["issue_key"] for r in items}
    assert keys == {"DEMO-1", "DEMO-2", "DEMO-3", "DEMO-9", None}
    assert all(r["sync_state"] == "not-synced" for r in items)
    assert min(r["started_at"] for r in items).startswith("2026-11-16")
