"""``jirabridge worklogs``: time records and their sync to Jira from the command line.

``sync`` prints the plan (create / update / delete ... per record) and then carries out that
very plan object with a progress bar; ``--dry-run`` stops after printing it.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from jirabridge.cli.accounts_common import accounts_context, user_by_email
from jirabridge.cli.common import ConfigOpt, DataDirOpt, build_settings, console, handle_errors
from jirabridge.errors import ValidationError
from jirabridge.service.worklogs import WorklogService
from jirabridge.store.time_records import RecordFilter
from jirabridge.sync.worklogs.executor import ActionOutcome
from jirabridge.sync.worklogs.planner import ActionKind

__all__ = ["register"]

app = typer.Typer(help="Time records and their Jira worklogs.", no_args_is_help=True)

UserOpt = Annotated[str, typer.Option("--user", help="E-mail of the user the command acts for.")]
ConnectionOpt = Annotated[
    str | None,
    typer.Option("--connection", help="Connection id (default: the user's first connection)."),
]


def _since(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValidationError(f"--since {value!r} is not a date (YYYY-MM-DD)") from None
    if isinstance(parsed, datetime) and parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


async def _record_ids(service: WorklogService, user_id: str, since: datetime | None) -> list[str]:
    ids: list[str] = []
    offset = 0
    while True:
        page, total = await service.list_records(
            user_id, RecordFilter(since=since, include_deleted=True), offset=offset, limit=500
        )
        ids.extend(r["id"] for r in page)
        offset += len(page)
        if not page or offset >= total:
            # Oldest first: the order people worked in.
            return list(reversed(ids))


@app.command("sync")
@handle_errors
def sync(
    user: UserOpt,
    since: Annotated[
        str | None, typer.Option("--since", help="Only records started on or after DATE.")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the plan and change nothing.")
    ] = False,
    connection: ConnectionOpt = None,
    data_dir: DataDirOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Print the sync plan of the user's records, then carry it out (unless --dry-run)."""
    settings = build_settings(config=config, data_dir=data_dir)
    start = _since(since)

    async def run() -> None:
        async with accounts_context(settings) as ctx:
            owner = await user_by_email(ctx, user)
            service = WorklogService.from_settings(settings, ctx.sessions, ctx.clients)
            ids = await _record_ids(service, owner.id, start)
            row = await service.connection_for(owner.id, connection)
            async with service.sync_for_connection(row.id) as worklog_sync:
                worklog_sync.actor_user_id = owner.id
                plan = await worklog_sync.plan(ids)
                typer.echo(plan.render())
                if dry_run:
                    return
                todo = [a for a in plan.actions if a.kind is not ActionKind.NOOP]
                columns = (
                    TextColumn("syncing"),
                    BarColumn(),
                    MofNCompleteColumn(),
                    TextColumn("{task.fields[last]}"),
                )
                with Progress(*columns, console=console, transient=True) as bar:
                    task = bar.add_task("sync", total=len(plan.actions), last="")

                    async def advance(outcome: ActionOutcome) -> None:
                        bar.update(task, advance=1, last=f"{outcome.record_id} {outcome.kind}")

                    summary = await worklog_sync.apply(plan, progress=advance)
                typer.echo(
                    f"done: {summary.succeeded} succeeded, {summary.failed} failed "
                    f"of {summary.total} ({len(todo)} with something to do)"
                )
                for error in summary.errors:
                    typer.echo(f"  {error['record_id']}: {error['error']}")
                if summary.failed:
                    raise typer.Exit(1)

    asyncio.run(run())


@app.command("import")
@handle_errors
def import_(
    user: UserOpt,
    file: Annotated[Path, typer.Argument(help="A .csv file or a .json list of records.")],
    data_dir: DataDirOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Import time records; prints one line per refused row."""
    settings = build_settings(config=config, data_dir=data_dir)
    text = file.read_text(encoding="utf-8-sig")

    async def run() -> None:
        async with accounts_context(settings) as ctx:
            owner = await user_by_email(ctx, user)
            service = WorklogService.from_settings(settings, ctx.sessions, ctx.clients)
            if file.suffix.lower() == ".json":
                rows = json.loads(text)
                if not isinstance(rows, list):
                    raise ValidationError("the JSON file must hold a list of records")
                report = await service.import_rows(owner.id, rows)
            else:
                report = await service.import_csv(owner.id, text)
        typer.echo(f"imported {len(report.created)} record(s)")
        for error in report.errors:
            typer.echo(f"  row {error['row']}: {error['error']}")
        if report.errors:
            raise typer.Exit(1)

    asyncio.run(run())


@app.command("list")
@handle_errors
def list_(
    user: UserOpt,
    since: Annotated[str | None, typer.Option("--since")] = None,
    data_dir: DataDirOpt = None,
    config: ConfigOpt = None,
) -> None:
    """List the user's records, newest first (tab-separated)."""
    settings = build_settings(config=config, data_dir=data_dir)

    async def run() -> None:
        async with accounts_context(settings) as ctx:
            owner = await user_by_email(ctx, user)
            service = WorklogService.from_settings(settings, ctx.sessions, ctx.clients)
            items, _ = await service.list_records(
                owner.id, RecordFilter(since=_since(since)), limit=500
            )
        typer.echo("id\tstarted\tminutes\tissue\tstate\tworklog")
        for r in items:
            typer.echo(
                f"{r['id']}\t{r['started_at']}\t{r['duration_seconds'] // 60}\t"
                f"{r['issue_key'] or '-'}\t{r['sync_state']}\t{r['worklog_id'] or '-'}"
            )

    asyncio.run(run())


def register(root: typer.Typer) -> None:
    """Add ``worklogs`` to the root CLI."""
    root.add_typer(app, name="worklogs")
