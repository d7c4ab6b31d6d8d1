"""Migration 0009: owner_key becomes owner foreign keys, keeping every owned row."""

from __future__ import annotations

from sqlalchemy import text

from jirabridge.store import migrations
from jirabridge.store.db import make_engine


async def test_owner_keys_become_foreign_keys_and_rows_survive(database_url: str) -> None:
    await migrations.upgrade_async(database_url, "0008")
    engine = make_engine(database_url)
    try:
        async with engine.begin() as db:
            await db.execute(
                text(
                    "INSERT INTO users (id, email, display_name, role, is_active, created_at,"
                    " updated_at) VALUES ('u1', 'a@x.y', 'A', 'member', true, CURRENT_TIMESTAMP,"
                    " CURRENT_TIMESTAMP)"
                )
            )
            await db.execute(
                text(
                    "INSERT INTO teams (id, name, created_at) VALUES ('t1', 'T', CURRENT_TIMESTAMP)"
                )
            )
            for owner, ref in (("user:u1", "1"), ("team:t1", "2"), ("user:gone", "3")):
                await db.execute(
                    text(
                        "INSERT INTO dev_links (owner_key, issue_key, repo, kind, ref, found_in,"
                        " created_at, updated_at) VALUES (:o, 'DEMO-1', 'o/r', 'pull_request',"
                        " :r, '[]', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
                    ),
                    {"o": owner, "r": ref},
                )
            await db.execute(
                text(
                    "INSERT INTO backfill_cursors (owner_key, repo, last_number, processed, total,"
                    " done, created_at, updated_at) VALUES ('team:t1', 'o/r', 7, 7, 9, false,"
                    " CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
                )
            )
        await migrations.upgrade_async(database_url)
        async with engine.connect() as db:
            links = (
                await db.execute(
                    text("SELECT ref, owner_user_id, owner_team_id FROM dev_links ORDER BY ref")
                )
            ).all()
            cursor = (
                await db.execute(
                    text("SELECT owner_team_id, last_number, processed FROM backfill_cursors")
                )
            ).one()
        assert [tuple(r) for r in links] == [("1", "u1", None), ("2", None, "t1")]
        assert tuple(cursor) == ("t1", 7, 7)

        async with engine.begin() as db:
            await db.execute(text("DELETE FROM users WHERE id = 'u1'"))
        async with engine.connect() as db:
            left = (await db.execute(text("SELECT ref FROM dev_links"))).scalars().all()
        assert left == ["2"]  # the user's links went with the user

        await migrations.downgrade_async(database_url, "0008")
        async with engine.connect() as db:
            back = (await db.execute(text("SELECT owner_key, ref FROM dev_links"))).all()
        assert [tuple(r) for r in back] == [("team:t1", "2")]
    finally:
        await engine.dispose()
