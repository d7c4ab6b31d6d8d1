"""``jirabridge export``: stories and epics to Jira, through the same service as the REST API.

``export stories FILE --profile P --user EMAIL [--dry-run]`` prints the plan, then carries out
exactly that plan (its ``plan_id``) in this process with a progress bar and records it in the
export history; ``export profiles ...`` manages saved profiles; ``export history`` lists
exports; ``export rollback EXPORT_ID`` plans (``--dry-run``) or applies a rollback.
``--profile`` is a saved profile's name, or a YAML/JSON file holding a mapping (then the
connection is ``--connection`` or the user's first one).
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import typer
import yaml
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from jirabridge.cli.accounts_common import accounts_context, user_by_email
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
from jirabridge.errors import NotFoundError, ValidationError
from jirabridge.service.settings import Settings
from jirabridge.service.stories import (
    PROFILE_NAME,
    ExportRequest,
    ProfileInput,
    RollbackRequest,
    StoriesService,
)
from jirabridge.store.accounts import ConnectionRepository
from jirabridge.store.db import read_transaction
from jirabridge.sync.stories.execute import ItemResult

__all__ = ["app", "load_mapping", "register"]

T = TypeVar("T")

app = typer.Typer(help="Export epics and stories to Jira.", no_args_is_help=True)
profiles_app = typer.Typer(help="Saved export profiles.", no_args_is_help=True)
app.add_typer(profiles_app, name="profiles")

UserOpt = Annotated[str, typer.Option("--user", help="E-mail of the user the command acts for.")]
ConnectionOpt = Annotated[
    str | None,
    typer.Option("--connection", help="Connection id (default: the profile's, or your first)."),
]


@app.callback()
def _group() -> None:
    """Export epics and stories to Jira."""


def load_mapping(path: Path) -> dict[str, Any]:
    """Read a mapping (profile settings) from a YAML or JSON file; a clear error when wrong."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ValidationError(f"cannot read the profile {path}: {exc}") from None
    if not isinstance(data, dict):
        raise ValidationError(f"profile {path}: expected a mapping of settings")
    # Older profile files carried their own namespace; ours is derived from the owner.
    return {k: v for k, v in data.items() if k != "namespace"}


def _run(settings: Settings, user: str, work: Callable[[StoriesService, str], Awaitable[T]]) -> T:
    async def go() -> T:
        async with accounts_context(settings) as ctx:
            owner = await user_by_email(ctx, user)
            return await work(StoriesService(ctx.sessions, ctx.clients), owner.id)

    return asyncio.run(go())


async def _first_connection(service: StoriesService, user_id: str) -> str:
    async with read_transaction(service.sessions) as session:
        found = await ConnectionRepository(session, user_id).list()
    if not found:
        raise NotFoundError("no Jira connection: add one first (jirabridge connections add)")
    return found[0].id


async def _request(
    service: StoriesService,
    user_id: str,
    file: Path,
    content: str,
    profile: str,
    mapping: dict[str, Any] | None,
    connection: str | None,
) -> ExportRequest:
    if mapping is not None:
        stem = re.sub(r"[^A-Za-z0-9._-]", "-", Path(profile).stem)[:40] or "default"
        return ExportRequest(
            filename=file.name,
            content=content,
            profile=mapping,
            profile_name=stem,
            connection_id=connection or await _first_connection(service, user_id),
        )
    return ExportRequest(
        filename=file.name,
        content=content,
        profile_id=await service.profile_id_by_name(user_id, profile),
        connection_id=connection,
    )


def _print_plan(plan: dict[str, Any], as_json: bool) -> None:
    if as_json:
        console.print_json(json.dumps(plan))
        return
    for issue in plan["issues"]:
        key = f" {issue['key']}" if issue["key"] else ""
        console.print(
            f"{issue['action']:9} {issue['level']:5} {issue['item']}{key}: {issue['summary']}",
            markup=False,
            highlight=False,
        )
    for problem in plan["problems"]:
        where = f"line {problem['line']}: " if problem["line"] is not None else ""
        item = f"[{problem['item']}] " if problem["item"] else ""
        err_console.print(
            f"problem: {where}{item}{problem['message']}", markup=False, highlight=False
        )
    counts = plan["counts"]
    console.print(
        f"plan: {counts['create']} to create, {counts['update']} to update, "
        f"{counts['unchanged']} unchanged, {len(plan['problems'])} problems"
    )


@app.command()
@handle_errors
def stories(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="JSON, YAML or .md")],
    profile: Annotated[
        str, typer.Option("--profile", help="A saved profile's name, or a profile file.")
    ],
    user: UserOpt,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the plan only.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="The plan as JSON.")] = False,
    connection: ConnectionOpt = None,
    data_dir: DataDirOpt = None,
    config: ConfigOpt = None,
    database_url: DatabaseUrlOpt = None,
) -> None:
    """Export the epics and stories in FILE to Jira (or print the plan with --dry-run)."""
    settings = build_settings(config=config, data_dir=data_dir, database_url=database_url)
    content = file.read_text(encoding="utf-8")
    mapping = load_mapping(Path(profile)) if Path(profile).is_file() else None

    async def work(service: StoriesService, user_id: str) -> tuple[bool, dict[str, Any] | None]:
        request = await _request(service, user_id, file, content, profile, mapping, connection)
        preview = await service.preview(user_id, request)
        _print_plan(preview.as_dict(), as_json)
        if dry_run or not preview.plan.ok:
            return preview.plan.ok, None
        columns = (TextColumn("exporting"), BarColumn(), MofNCompleteColumn())
        with Progress(*columns, console=err_console) as bar:
            task = bar.add_task("export", total=len(preview.plan.issues))

            def advance(_: ItemResult) -> None:
                bar.advance(task)

            export_id = await service.export_now(
                user_id, request.model_copy(update={"plan_id": preview.plan_id}), advance
            )
        return True, await service.get_export(user_id, export_id)

    plan_ok, done = _run(settings, user, work)
    if not plan_ok:
        raise typer.Exit(EXIT_ERROR)
    if done is not None:
        _report(done)


def _report(done: dict[str, Any]) -> None:
    """Print an export's failed items and summary; exit non-zero unless it went through."""
    for item in done["items"]:
        if item["outcome"] in ("failed", "unknown"):
            err_console.print(f"{item['outcome']}: {item['item']}: {item['error']}", markup=False)
    summary = ", ".join(f"{n} {s}" for s, n in sorted(done["counts"].items()))
    console.print(f"export {done['id']}: {summary}", markup=False, highlight=False)
    if done["error"]:
        err_console.print(f"error: {done['error']}", markup=False)
    if not done["ok"]:
        raise typer.Exit(EXIT_ERROR)


@app.command()
@handle_errors
def resume(
    export_id: Annotated[str, typer.Argument(help="The export's id (see `export history`).")],
    user: UserOpt,
    force: Annotated[
        bool,
        typer.Option("--force", help="Resume an export marked running whose process is gone."),
    ] = False,
    data_dir: DataDirOpt = None,
    config: ConfigOpt = None,
    database_url: DatabaseUrlOpt = None,
) -> None:
    """Finish an export whose run was interrupted or failed; nothing already in Jira is
    written twice."""
    settings = build_settings(config=config, data_dir=data_dir, database_url=database_url)

    async def work(service: StoriesService, user_id: str) -> dict[str, Any]:
        current = await service.get_export(user_id, export_id)
        columns = (TextColumn("resuming"), BarColumn(), MofNCompleteColumn())
        with Progress(*columns, console=err_console) as bar:
            task = bar.add_task("export", total=current["total"])

            def advance(_: ItemResult) -> None:
                bar.advance(task)

            await service.resume_now(user_id, export_id, advance, force=force)
        return await service.get_export(user_id, export_id)

    _report(_run(settings, user, work))


@app.command()
@handle_errors
def history(
    user: UserOpt,
    limit: Annotated[int, typer.Option(min=1, max=200, help="How many, newest first.")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="As JSON.")] = False,
    data_dir: DataDirOpt = None,
    config: ConfigOpt = None,
    database_url: DatabaseUrlOpt = None,
) -> None:
    """List the user's exports, newest first."""
    settings = build_settings(config=config, data_dir=data_dir, database_url=database_url)

    async def work(service: StoriesService, user_id: str) -> list[dict[str, Any]]:
        items, _ = await service.list_exports(user_id, limit=limit)
        return items

    items = _run(settings, user, work)
    if as_json:
        console.print_json(json.dumps(items))
        return
    for e in items:
        counts = ", ".join(f"{n} {s}" for s, n in sorted(e["counts"].items()))
        console.print(
            f"{e['id']}  {e['created_at'][:19]}  {e['status']:8}  {e['file_name']}  "
            f"profile {e['profile_name']}  {counts}",
            markup=False,
            highlight=False,
        )
    if not items:
        console.print("no exports yet")


@app.command()
@handle_errors
def rollback(
    export_id: Annotated[str, typer.Argument(help="The export to roll back.")],
    user: UserOpt,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the plan only.")] = False,
    mode: Annotated[str, typer.Option("--mode", help="delete, transition or label.")] = "delete",
    force: Annotated[
        bool, typer.Option("--force", help="Also issues edited in Jira since the export.")
    ] = False,
    to_status: Annotated[
        str | None, typer.Option("--to-status", help="For --mode transition: the status.")
    ] = None,
    data_dir: DataDirOpt = None,
    config: ConfigOpt = None,
    database_url: DatabaseUrlOpt = None,
) -> None:
    """Undo what an export created: delete (or transition, or label) its issues."""
    if mode not in ("delete", "transition", "label"):
        raise ValidationError("--mode must be delete, transition or label")
    chosen: Literal["delete", "transition", "label"] = mode  # type: ignore[assignment]
    request = RollbackRequest(mode=chosen, force=force, to_status=to_status, dry_run=dry_run)
    settings = build_settings(config=config, data_dir=data_dir, database_url=database_url)

    async def work(service: StoriesService, user_id: str) -> dict[str, Any]:
        return await service.rollback(user_id, export_id, request)

    result = _run(settings, user, work)
    for step in result["steps"]:
        reason = f" ({step['reason']})" if step["reason"] else ""
        outcome = f" -> {step['outcome']}" if step["outcome"] else ""
        console.print(
            f"{step['action']:10} {step['item']} {step['key']}{reason}{outcome}",
            markup=False,
            highlight=False,
        )
    verb = "would do" if dry_run else "did"
    counts = ", ".join(f"{n} {a}" for a, n in sorted(result["counts"].items()))
    console.print(f"rollback ({mode}) {verb}: {counts or 'nothing'}")
    if not dry_run and any((s["outcome"] or "").startswith("failed") for s in result["steps"]):
        raise typer.Exit(EXIT_ERROR)


# -- profiles -------------------------------------------------------------------------------


@profiles_app.command("list")
@handle_errors
def profiles_list(
    user: UserOpt,
    data_dir: DataDirOpt = None,
    config: ConfigOpt = None,
    database_url: DatabaseUrlOpt = None,
) -> None:
    """The user's saved profiles."""
    settings = build_settings(config=config, data_dir=data_dir, database_url=database_url)
    found = _run(settings, user, lambda service, uid: service.list_profiles(uid))
    for p in found:
        console.print(
            f"{p['name']}  project {p['settings'].get('project')}  "
            f"connection {p['connection_id'] or '-'}  v{p['version']}",
            markup=False,
            highlight=False,
        )
    if not found:
        console.print("no profiles yet")


@profiles_app.command("show")
@handle_errors
def profiles_show(
    name: Annotated[str, typer.Argument(help="The profile's name.")],
    user: UserOpt,
    data_dir: DataDirOpt = None,
    config: ConfigOpt = None,
    database_url: DatabaseUrlOpt = None,
) -> None:
    """One profile as JSON."""
    settings = build_settings(config=config, data_dir=data_dir, database_url=database_url)

    async def work(service: StoriesService, user_id: str) -> dict[str, Any]:
        return await service.get_profile(user_id, await service.profile_id_by_name(user_id, name))

    console.print_json(json.dumps(_run(settings, user, work)))


@profiles_app.command("save")
@handle_errors
def profiles_save(
    name: Annotated[str, typer.Argument(help="The profile's name.")],
    file: Annotated[
        Path, typer.Option("--file", exists=True, dir_okay=False, help="YAML/JSON settings.")
    ],
    user: UserOpt,
    connection: ConnectionOpt = None,
    data_dir: DataDirOpt = None,
    config: ConfigOpt = None,
    database_url: DatabaseUrlOpt = None,
) -> None:
    """Create the profile NAME from a settings file, or replace it if it exists."""
    mapping = load_mapping(file)
    if not re.fullmatch(PROFILE_NAME, name):
        raise ValidationError("a profile name is 1-80 letters, digits, spaces, '.', '_' or '-'")
    settings = build_settings(config=config, data_dir=data_dir, database_url=database_url)

    async def work(service: StoriesService, user_id: str) -> dict[str, Any]:
        chosen = connection or await _first_connection(service, user_id)
        data = ProfileInput(name=name, connection_id=chosen, settings=mapping)
        try:
            existing = await service.profile_id_by_name(user_id, name)
        except NotFoundError:
            return await service.create_profile(user_id, data)
        return await service.update_profile(user_id, existing, data)

    saved = _run(settings, user, work)
    console.print(f"saved profile {saved['name']} (v{saved['version']}, id {saved['id']})")


@profiles_app.command("delete")
@handle_errors
def profiles_delete(
    name: Annotated[str, typer.Argument(help="The profile's name.")],
    user: UserOpt,
    data_dir: DataDirOpt = None,
    config: ConfigOpt = None,
    database_url: DatabaseUrlOpt = None,
) -> None:
    """Delete a profile (exports made with it keep their copy)."""
    settings = build_settings(config=config, data_dir=data_dir, database_url=database_url)

    async def work(service: StoriesService, user_id: str) -> None:
        await service.delete_profile(user_id, await service.profile_id_by_name(user_id, name))

    _run(settings, user, work)
    console.print(f"deleted profile {name}")


def register(root: typer.Typer) -> None:
    """Add ``export`` to the root CLI."""
    root.add_typer(app, name="export")
