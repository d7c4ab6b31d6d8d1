"""``jirabridge prune``: one retention pass now (workers also run it on a schedule)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
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
from jirabridge.service.maintenance import MaintenanceConfig, RetentionReport, retention_pass
from jirabridge.service.runtime import open_runtime
from jirabridge.service.settings import Settings

__all__ = ["prune", "register"]


async def _prune(settings: Settings) -> RetentionReport:
    async with open_runtime(settings, workers=False) as runtime:
        return await retention_pass(
            runtime.jobs,
            runtime.sessions,
            MaintenanceConfig.from_settings(settings),
            datetime.now(UTC),
        )


@handle_errors
def prune(
    workflow_days: Annotated[
        float | None,
        typer.Option(
            help="Delete finished workflows older than this many days (default from settings).",
        ),
    ] = None,
    data_dir: DataDirOpt = None,
    config: ConfigOpt = None,
    database_url: DatabaseUrlOpt = None,
) -> None:
    """Delete old finished workflows and expired sessions and OAuth states, once."""
    settings = build_settings(
        config=config,
        data_dir=data_dir,
        database_url=database_url,
        retention_workflow_days=workflow_days,
    )
    asyncio.run(preflight(settings))
    report = asyncio.run(_prune(settings))
    console.print(
        f"deleted {report.workflows} workflows, {report.sessions} sessions, "
        f"{report.oauth_states} OAuth states, {report.pending_grants} pending grants"
    )


def register(app: typer.Typer) -> None:
    """Add ``prune`` to the root CLI."""
    app.command()(prune)
