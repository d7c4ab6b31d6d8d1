"""``jirabridge db``: schema migrations."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from jirabridge.cli.common import (
    ConfigOpt,
    DatabaseUrlOpt,
    DataDirOpt,
    build_settings,
    console,
    handle_errors,
)
from jirabridge.cli.serve import preflight
from jirabridge.store import migrations

app = typer.Typer(help="Database schema.", no_args_is_help=True)


@app.command()
@handle_errors
def upgrade(
    revision: Annotated[str, typer.Argument(help="Target revision.")] = "head",
    data_dir: DataDirOpt = None,
    config: ConfigOpt = None,
    database_url: DatabaseUrlOpt = None,
) -> None:
    """Upgrade the database schema (to the latest revision by default)."""
    settings = build_settings(config=config, data_dir=data_dir, database_url=database_url)
    asyncio.run(preflight(settings))
    asyncio.run(migrations.upgrade_async(settings.effective_database_url, revision))
    console.print(f"database at revision {revision}")


def register(root: typer.Typer) -> None:
    """Add ``db`` to the root CLI."""
    root.add_typer(app, name="db")
