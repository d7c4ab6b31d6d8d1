"""``jirabridge report``: sprint reports of a board, as a table, CSV or JSON.

The Jira site comes from the ``JIRA_*`` environment variables (``JiraClient.from_env``); the
issue cache lives in ``--cache-dir`` so a second report only fetches what changed.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import typer
from rich.table import Table

from jirabridge.cli.common import console, handle_errors
from jirabridge.errors import ValidationError
from jirabridge.jira import JiraClient
from jirabridge.sync.reports.board import BoardReport, board_report
from jirabridge.sync.reports.formats import issues_csv, report_json, sprints_csv, sprints_table
from jirabridge.sync.reports.history import FieldIds
from jirabridge.sync.reports.source import FileReportCache, SprintDataLoader

__all__ = ["register", "report_app"]

report_app = typer.Typer(help="Sprint reports from a Jira board.", no_args_is_help=True)

_DEFAULT_CACHE = Path.home() / ".cache" / "jirabridge" / "reports"


class OutputFormat(StrEnum):
    """How ``report sprint`` prints."""

    table = "table"
    csv = "csv"
    json = "json"


CacheOpt = Annotated[
    Path,
    typer.Option(
        "--cache-dir",
        help="Where issue histories are cached between runs.",
        envvar="JIRABRIDGE_REPORT_CACHE",
    ),
]


def parse_zone(name: str) -> ZoneInfo:
    """An IANA time zone, or a clear error."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationError(
            f"unknown time zone {name!r} (use an IANA name like Europe/Paris)"
        ) from None


async def _boards() -> list[tuple[int, str, str]]:
    async with JiraClient.from_env() as client:
        return [(b.id, b.name, b.type or "") async for b in client.boards()]


async def _report(
    board: int,
    sprints: list[int] | None,
    last: int | None,
    zone: ZoneInfo,
    points_field: str | None,
    cache_dir: Path,
) -> BoardReport:
    async with JiraClient.from_env() as client:
        site = client.http.base_url
        fields = FieldIds(points=points_field) if points_field else None
        loader = SprintDataLoader(client, FileReportCache(cache_dir), site=site, field_ids=fields)
        data = await loader.load(board, sprint_ids=sprints, last=last)
    return board_report(board, data.sprints, data.histories, as_of=datetime.now(UTC), zone=zone)


@report_app.command("boards")
@handle_errors
def boards() -> None:
    """List the boards the Jira user can see."""
    table = Table("Board", "Name", "Type")
    for board_id, name, kind in asyncio.run(_boards()):
        table.add_row(str(board_id), name, kind)
    console.print(table)


@report_app.command("sprint")
@handle_errors
def sprint(
    board: Annotated[int, typer.Option("--board", "-b", help="Board id.", min=1)],
    sprint_ids: Annotated[
        list[int] | None,
        typer.Option("--sprint", "-s", help="Sprint id (repeat for several)."),
    ] = None,
    last: Annotated[
        int | None, typer.Option("--last", "-n", help="The last N started sprints.", min=1)
    ] = None,
    output: Annotated[
        OutputFormat, typer.Option("--format", "-f", help="table, csv or json.")
    ] = OutputFormat.table,
    tz: Annotated[str, typer.Option("--tz", help="Time zone of burndown days.")] = "UTC",
    points_field: Annotated[
        str | None,
        typer.Option("--points-field", help="Story points field id (detected when absent)."),
    ] = None,
    issues: Annotated[
        bool, typer.Option("--issues", help="CSV: one row per issue instead of per sprint.")
    ] = False,
    cache_dir: CacheOpt = _DEFAULT_CACHE,
) -> None:
    """Committed vs completed, scope change and velocity of a board's sprints."""
    if sprint_ids and last:
        raise ValidationError("give --sprint or --last, not both")
    zone = parse_zone(tz)
    report = asyncio.run(_report(board, sprint_ids or None, last, zone, points_field, cache_dir))
    if output is OutputFormat.json:
        typer.echo(json.dumps(report_json(report), indent=2))
    elif output is OutputFormat.csv:
        typer.echo(issues_csv(report) if issues else sprints_csv(report), nl=False)
    else:
        _print_table(report)


def _print_table(report: BoardReport) -> None:
    head, *rows = sprints_table(report)
    table = Table(*head, title=f"Board {report.board_id}")
    for row in rows:
        table.add_row(*row)
    console.print(table)
    v, c = report.velocity, report.cycle_time
    if v.average_completed is not None:
        trend = f"{v.trend:+g}" if v.trend is not None else "n/a"
        console.print(
            f"Velocity: average committed {v.average_committed:g}, average completed "
            f"{v.average_completed:g}, trend {trend} points/sprint"
        )
    if c.p50 is not None:
        console.print(
            f"Cycle time (days): p50 {c.p50:.2f}, p85 {c.p85:.2f}, p95 {c.p95:.2f} "
            f"over {len(c.items)} issues"
        )


def register(app: typer.Typer) -> None:
    """Add ``report`` to the root CLI."""
    app.add_typer(report_app, name="report")
