"""``jirabridge export stories FILE --profile P [--dry-run]``: stories and epics to Jira.

The profile is a YAML or JSON file holding an export profile (project, issue types, story
points field, flavour...). Jira comes from the ``JIRA_*`` environment variables; the write
ledger lives in the service database (run ``jirabridge db upgrade`` first).
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from pydantic import ValidationError as PydanticValidationError
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from jirabridge.cli.common import (
    EXIT_ERROR,
    ConfigOpt,
    DatabaseUrlOpt,
    DataDirOpt,
    build_settings,
    console,
    err_console,
    handle_errors,
)
from jirabridge.errors import ValidationError
from jirabridge.jira import JiraClient
from jirabridge.store.db import make_engine, session_factory
from jirabridge.store.ledger import WriteLedger
from jirabridge.sync.stories import (
    ExportPlan,
    ExportProfile,
    ExportResult,
    ItemResult,
    apply_export,
    parse_stories,
    plan_export,
    prior_state,
)
from jirabridge.sync.stories.parse import detect_format

__all__ = ["app", "load_profile", "register", "run_export"]

app = typer.Typer(help="Export epics and stories to Jira.", no_args_is_help=True)


@app.callback()
def _group() -> None:
    """Export epics and stories to Jira."""


def load_profile(path: Path) -> ExportProfile:
    """Read an export profile from a YAML or JSON file; a clear error when it is wrong."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ValidationError(f"cannot read the profile {path}: {exc}") from None
    try:
        return ExportProfile.model_validate(data)
    except PydanticValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ValidationError(f"profile {path}: {where}: {first['msg']}") from None


async def run_export(
    file: Path,
    profile: ExportProfile,
    *,
    ledger: WriteLedger,
    site: str,
    jira: JiraClient | None,
    dry_run: bool,
) -> tuple[ExportPlan, ExportResult | None]:
    """Plan (and unless ``dry_run``, apply) the export of ``file``; shows a progress bar."""
    text = await asyncio.to_thread(file.read_text, encoding="utf-8")
    stories = parse_stories(text, detect_format(file.name))
    ids = [e.id for e in stories.epics] + [s.id for s in stories.stories]
    plan = plan_export(stories, profile, await prior_state(ledger, site, profile, ids))
    if dry_run or not plan.ok:
        return plan, None
    if jira is None:
        raise ValidationError("no Jira client to export with")
    with Progress(
        TextColumn("exporting"), BarColumn(), MofNCompleteColumn(), console=err_console
    ) as bar:
        task = bar.add_task("export", total=len(plan.issues))

        def advance(_: ItemResult) -> None:
            bar.advance(task)

        result = await apply_export(plan, jira=jira, ledger=ledger, site=site, progress=advance)
    return plan, result


def _print_plan(plan: ExportPlan, as_json: bool) -> None:
    if as_json:
        console.print_json(json.dumps(plan.to_dict()))
        return
    for issue in plan.issues:
        key = f" {issue.key}" if issue.key else ""
        console.print(
            f"{issue.action:9} {issue.level:5} {issue.item_id}{key}: {issue.fields.get('summary')}",
            markup=False,
            highlight=False,
        )
    for problem in plan.problems:
        err_console.print(f"problem: {problem}", markup=False, highlight=False)
    counts = plan.counts()
    console.print(
        f"plan: {counts['create']} to create, {counts['update']} to update, "
        f"{counts['unchanged']} unchanged, {len(plan.problems)} problems"
    )


@app.command()
@handle_errors
def stories(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="JSON, YAML or .md")],
    profile: Annotated[
        Path, typer.Option("--profile", exists=True, dir_okay=False, help="Profile file.")
    ],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the plan only.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="The plan as JSON.")] = False,
    site: Annotated[str | None, typer.Option(help="Ledger site name (default: Jira URL).")] = None,
    data_dir: DataDirOpt = None,
    config: ConfigOpt = None,
    database_url: DatabaseUrlOpt = None,
) -> None:
    """Export the epics and stories in FILE to Jira (or print the plan with --dry-run)."""
    chosen = load_profile(profile)
    settings = build_settings(config=config, data_dir=data_dir, database_url=database_url)

    async def go() -> tuple[ExportPlan, ExportResult | None]:
        engine = make_engine(settings.effective_database_url)
        jira = None if dry_run else JiraClient.from_env()
        try:
            name = site or (jira.http.site if jira is not None else "dry-run")
            return await run_export(
                file,
                chosen,
                ledger=WriteLedger(session_factory(engine)),
                site=name,
                jira=jira,
                dry_run=dry_run,
            )
        finally:
            if jira is not None:
                await jira.aclose()
            await engine.dispose()

    plan, result = asyncio.run(go())
    _print_plan(plan, as_json)
    if not plan.ok:
        raise typer.Exit(EXIT_ERROR)
    if result is not None:
        for item in result.results:
            if item.status in ("failed", "unknown"):
                err_console.print(f"{item.status}: {item.item_id}: {item.error}", markup=False)
        summary: dict[str, Any] = result.counts()
        console.print("done: " + ", ".join(f"{n} {s}" for s, n in sorted(summary.items())))
        if not result.ok:
            raise typer.Exit(EXIT_ERROR)


def register(root: typer.Typer) -> None:
    """Add ``export`` to the root CLI."""
    root.add_typer(app, name="export")
