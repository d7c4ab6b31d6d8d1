"""``jirabridge github``: GitHub connections and backfills.

``github connections add|list|test|remove`` manage a user's connections (the token or App
private key is read from a prompt, an environment variable or a file, never echoed);
``github backfill REPO --months N`` runs a durable backfill in this process and shows its
progress; an interrupted one resumes where it stopped when run again with ``--resume RUN``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

import typer

from jirabridge.cli.accounts_common import accounts_context, user_by_email
from jirabridge.cli.common import ConfigOpt, DataDirOpt, build_settings, console, handle_errors
from jirabridge.errors import NotFoundError, ValidationError
from jirabridge.service.github import GitHubService, build_github_service
from jirabridge.service.settings import Settings
from jirabridge.store.accounts import TeamRepository
from jirabridge.store.db import read_transaction
from jirabridge.sync.devlinks import jobs as devlink_jobs

__all__ = ["app", "register"]

app = typer.Typer(help="GitHub connections and backfills.", no_args_is_help=True)
connections_app = typer.Typer(help="GitHub connections of a user.", no_args_is_help=True)

UserOpt = Annotated[str, typer.Option("--user", help="E-mail of the acting user.")]
TeamOpt = Annotated[
    str | None,
    typer.Option("--team", help="Act for this team of the user (its connections, not theirs)."),
]
TOKEN_ENV = "JIRABRIDGE_GITHUB_TOKEN"  # noqa: S105 - the name of a variable


@asynccontextmanager
async def _service(
    settings: Settings, email: str, team: str | None = None
) -> AsyncIterator[tuple[GitHubService, str]]:
    """The service and the owner key acted for: the user, or one of their teams by name."""
    async with accounts_context(settings) as accounts:
        user = await user_by_email(accounts, email)
        owner = f"user:{user.id}"
        if team is not None:
            async with read_transaction(accounts.sessions) as session:
                teams = await TeamRepository(session).teams_of(user.id)
            found = next((t for t in teams if t.name == team), None)
            if found is None:
                raise NotFoundError(f"{email} is not a member of a team named {team!r}")
            owner = f"team:{found.id}"
        service = build_github_service(
            settings, accounts.sessions, jira_clients=accounts.clients, box=accounts.secrets.box
        )
        yield service, owner


@connections_app.command("add")
@handle_errors
def add(
    user: UserOpt,
    name: Annotated[str, typer.Option("--name", help="A name for the connection.")],
    repo: Annotated[
        list[str] | None, typer.Option("--repo", help="Repository owner/name (repeat).")
    ] = None,
    project: Annotated[
        list[str] | None, typer.Option("--project", "-p", help="Jira project key (repeat).")
    ] = None,
    jira_connection: Annotated[
        str | None, typer.Option("--jira-connection", help="Jira connection id to write to.")
    ] = None,
    token: Annotated[
        str | None,
        typer.Option(
            "--token", help=f"Token (prompted when absent; or {TOKEN_ENV}).", envvar=TOKEN_ENV
        ),
    ] = None,
    app_id: Annotated[str | None, typer.Option("--app-id", help="GitHub App id.")] = None,
    installation_id: Annotated[
        str | None, typer.Option("--installation-id", help="GitHub App installation id.")
    ] = None,
    private_key: Annotated[
        Path | None, typer.Option("--private-key", help="GitHub App private key (PEM file).")
    ] = None,
    set_up_hooks: Annotated[
        bool, typer.Option("--webhooks/--no-webhooks", help="Create the repository webhooks.")
    ] = False,
    team: TeamOpt = None,
    data_dir: DataDirOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Save a token or GitHub App connection; prints its webhook URL and secret once."""
    settings = build_settings(config=config, data_dir=data_dir)
    kind = "app" if app_id or installation_id or private_key else "token"
    if kind == "app":
        if private_key is None:
            raise ValidationError("a GitHub App connection needs --private-key FILE")
        try:
            secret = private_key.read_text(encoding="utf-8")
        except OSError as exc:
            raise ValidationError(f"cannot read {private_key}: {exc.strerror}") from None
    else:
        secret = token or typer.prompt("GitHub token", hide_input=True)

    async def run() -> None:
        async with _service(settings, user, team) as (service, owner):
            created = await service.create(
                owner,
                name=name,
                kind=kind,
                secret=secret,
                repos=repo or [],
                project_keys=project or [],
                app_id=app_id,
                installation_id=installation_id,
                jira_connection_id=jira_connection,
            )
            console.print(f"saved GitHub connection {created.connection.id} ({name})")
            console.print(f"webhook URL:    {created.webhook_url}")
            console.print(f"webhook secret: {created.webhook_secret}  (shown once)")
            if set_up_hooks:
                for hook in await service.set_up_webhooks(owner, created.connection.id):
                    if hook.status == "created":
                        console.print(f"{hook.repo}: webhook created (id {hook.hook_id})")
                    else:
                        console.print(f"{hook.repo}: {hook.instructions}")

    asyncio.run(run())


@connections_app.command("list")
@handle_errors
def list_(
    user: UserOpt, team: TeamOpt = None, data_dir: DataDirOpt = None, config: ConfigOpt = None
) -> None:
    """List the user's GitHub connections."""
    settings = build_settings(config=config, data_dir=data_dir)

    async def run() -> None:
        async with _service(settings, user, team) as (service, owner):
            found = await service.store(owner).list()
            if not found:
                typer.echo("no GitHub connections")
            for c in found:
                repos = ", ".join(c.repos) or "no repositories"
                typer.echo(f"{c.id}  {c.name}  {c.kind}  {repos}")

    asyncio.run(run())


@connections_app.command("test")
@handle_errors
def check(
    user: UserOpt,
    connection_id: Annotated[str, typer.Argument(help="The connection id.")],
    team: TeamOpt = None,
    data_dir: DataDirOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Call GitHub with the stored credentials."""
    settings = build_settings(config=config, data_dir=data_dir)

    async def run() -> bool:
        async with _service(settings, user, team) as (service, owner):
            result = await service.test(owner, connection_id)
        left = "" if result.rate_remaining is None else f" ({result.rate_remaining} calls left)"
        typer.echo(f"{result.message}{left}")
        return result.ok

    if not asyncio.run(run()):
        raise typer.Exit(1)


@connections_app.command("remove")
@handle_errors
def remove(
    user: UserOpt,
    connection_id: Annotated[str, typer.Argument(help="The connection id.")],
    team: TeamOpt = None,
    data_dir: DataDirOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Delete a connection, its secrets and its webhook endpoint."""
    settings = build_settings(config=config, data_dir=data_dir)

    async def run() -> str:
        async with _service(settings, user, team) as (service, owner):
            return (await service.remove(owner, connection_id)).name

    typer.echo(f"removed GitHub connection {asyncio.run(run())}")


async def _backfill(
    settings: Settings,
    email: str,
    team: str | None,
    connection_id: str | None,
    repos: list[str],
    months: int,
) -> dict[str, Any]:
    from jirabridge.service.runtime import open_runtime

    # Refuse what cannot run before starting the job engine.
    async with _service(settings, email, team) as (service, owner):
        if connection_id is None:
            matching = [
                c.id for c in await service.store(owner).list() if set(repos) <= set(c.repos)
            ]
            if not matching:
                raise NotFoundError(
                    f"no GitHub connection of {email} has {', '.join(repos)} selected"
                )
            connection_id = matching[0]
        await service.connection(owner, connection_id)
    async with (
        open_runtime(settings, workers=True) as runtime,
        _service(settings, email, team) as (service, owner),
    ):
        service.jobs = runtime.jobs
        run_id = await service.start_backfill(owner, connection_id, months=months, repos=repos)
        typer.echo(f"backfill run {run_id}")
        handle = await runtime.jobs.handle(devlink_jobs.backfill_workflow_id(run_id))
        waiter = asyncio.ensure_future(handle.result())
        last = None
        while not waiter.done():
            progress = await service.backfill_progress(owner, run_id)
            line = f"{progress['processed']}/{progress['total']} pull requests"
            if progress["eta_seconds"] is not None:
                line += f", about {progress['eta_seconds']:.0f} s left"
            if line != last:
                typer.echo(line)
                last = line
            await asyncio.wait({waiter}, timeout=1.0)
        await waiter
        return await service.backfill_progress(owner, run_id)


@app.command("backfill")
@handle_errors
def backfill(
    user: UserOpt,
    repo: Annotated[list[str], typer.Argument(help="Repository owner/name (one or more).")],
    months: Annotated[int, typer.Option("--months", help="How far back, in months.")] = 6,
    connection: Annotated[
        str | None,
        typer.Option("--connection", help="GitHub connection id (default: one with these repos)"),
    ] = None,
    team: TeamOpt = None,
    data_dir: DataDirOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Link the last N months of pull requests and commits to Jira (no transitions fired)."""
    settings = build_settings(config=config, data_dir=data_dir)
    final = asyncio.run(_backfill(settings, user, team, connection, list(repo), months))
    failed = 0
    for r in final["repos"]:
        if r["error"]:
            failed += 1
            typer.echo(f"{r['repo']}: failed, skipped: {r['error']}")
        else:
            typer.echo(f"{r['repo']}: {r['processed']} pull requests linked")
    if failed:
        raise typer.Exit(1)


def register(root: typer.Typer) -> None:
    """Add ``github`` to the root CLI."""
    app.add_typer(connections_app, name="connections")
    root.add_typer(app, name="github")
