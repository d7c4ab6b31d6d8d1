"""The packaged Alembic migrations: from empty to head and back, and in step with the models."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from jirabridge.errors import StorageError
from jirabridge.store import migrations
from jirabridge.store.db import READ_ONLY, make_engine


async def _inspect(url: str, work: Any) -> Any:
    engine = make_engine(url)
    try:
        async with engine.connect() as connection:
            await connection.execution_options(**READ_ONLY)
            return await connection.run_sync(work)
    finally:
        await engine.dispose()


def _tables(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names())


def _differences(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(
        connection,
        opts={"compare_type": True, "render_as_batch": True},
    )
    return list(compare_metadata(context, migrations.target_metadata()))


def test_scripts_ship_inside_the_package() -> None:
    location = Path(migrations.alembic_config("sqlite:///x.db").get_main_option("script_location"))
    assert (location / "env.py").is_file()
    assert (location / "script.py.mako").is_file()
    assert any((location / "versions").glob("*.py"))
    assert len(migrations.heads()) == 1


async def test_upgrade_from_empty_reaches_head(database_url: str) -> None:
    assert await migrations.current_async(database_url) is None
    assert not await migrations.is_at_head_async(database_url)
    await migrations.upgrade_async(database_url)
    assert await migrations.current_async(database_url) == migrations.heads()[0]
    assert await migrations.is_at_head_async(database_url)
    await migrations.check_at_head_async(database_url)
    tables = await _inspect(database_url, _tables)
    assert {"write_ledger", "alembic_version"} <= tables


async def test_models_and_migrations_are_in_step(database_url: str) -> None:
    await migrations.upgrade_async(database_url)
    assert await _inspect(database_url, _differences) == []


async def test_the_comparison_would_notice_a_missing_migration(database_url: str) -> None:
    """Control for the test above: with the schema one revision short, it reports the table."""
    await migrations.upgrade_async(database_url)
    await migrations.downgrade_async(database_url, "base")
    differences = await _inspect(database_url, _differences)
    assert any(diff[0] == "add_table" and diff[1].name == "write_ledger" for diff in differences)


async def test_downgrade_to_base_and_up_again(database_url: str) -> None:
    await migrations.upgrade_async(database_url)
    await migrations.downgrade_async(database_url, "base")
    assert await migrations.current_async(database_url) is None
    assert "write_ledger" not in await _inspect(database_url, _tables)
    await migrations.upgrade_async(database_url)
    assert await migrations.current_async(database_url) == migrations.heads()[0]


async def test_check_at_head_names_the_fix_when_behind(database_url: str) -> None:
    with pytest.raises(StorageError, match="jirabridge db upgrade") as caught:
        await migrations.check_at_head_async(database_url)
    assert caught.value.details["current"] is None


def test_blocking_forms_work_outside_an_event_loop(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'app.db'}"
    assert not migrations.is_at_head(url)
    migrations.upgrade(url)
    assert migrations.current(url) == migrations.heads()[0]
    assert migrations.is_at_head(url)
    migrations.check_at_head(url)
    migrations.downgrade(url, "base")
    assert migrations.current(url) is None


async def test_blocking_forms_work_inside_a_running_loop(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'app.db'}"
    migrations.upgrade(url)
    assert migrations.current(url) == migrations.heads()[0]


async def test_upgrading_an_unreachable_database_raises_storage_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"postgresql://jb:migr8secret@127.0.0.1:{port}/jb"
    with pytest.raises(StorageError) as caught:
        await migrations.upgrade_async(url)
    assert "migr8secret" not in str(caught.value)
