"""``jirabridge connections``: a user's Jira connections from the command line."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from jirabridge.cli.accounts_common import accounts_context, user_by_email
from jirabridge.cli.common import (
    EXIT_ERROR,
    ConfigOpt,
    DataDirOpt,
    build_settings,
    console,
    handle_errors,
)
from jirabridge.service.connections import ConnectionInput
from jirabridge.store.account_models import ConnectionKind

app = typer.Typer(help="Jira connections of a user.", no_args_is_help=True)

UserOpt = Annotated[str, typer.Option("--user", help="E-mail of the user the command acts for.")]
SECRET_ENV = "JIRABRIDGE_JIRA_SECRET"  # noqa: S105 - the name of a variable


@app.command("add")
@handle_errors
def add(
    user: UserOpt,
    url: Annotated[str, typer.Option("--url", help="Jira base URL.")],
    kind: Annotated[ConnectionKind, typer.Option("--kind")] = ConnectionKind.CLOUD_TOKEN,
    name: Annotated[str | None, typer.Option("--name", help="Defaults to the host.")] = None,
    email: Annotated[
        str | None, typer.Option("--email", help="Account e-mail (Cloud) or user name (DC basic).")
    ] = None,
    secret: Annotated[
        str | None,
        typer.Option(
            "--secret",
            help=f"Token or password (prompted when absent; or {SECRET_ENV}).",
            envvar=SECRET_ENV,
        ),
    ] = None,
    test: Annotated[bool, typer.Option("--test/--no-test", help="Test before saving.")] = True,
    force: Annotated[bool, typer.Option("--force", help="Save even if the test fails.")] = False,
    data_dir: DataDirOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Test and save a token, PAT or basic connection."""
    settings = build_settings(config=config, data_dir=data_dir)
    value = secret or typer.prompt("Token or password", hide_input=True)

    async def run() -> None:
        async with accounts_context(settings) as ctx:
            owner = await user_by_email(ctx, user)
            row, outcome = await ctx.connections.create(
                owner.id,
                ConnectionInput(
                    name=name or url.split("//", 1)[-1].split("/", 1)[0],
                    kind=kind,
                    base_url=url,
                    email=email,
                    secret=value,
                ),
                test=test,
                force=force,
            )
            console.print(f"saved connection {row.id} ({row.name})")
            if outcome is not None:
                console.print(("test ok: " if outcome.ok else "test FAILED: ") + outcome.message)

    asyncio.run(run())


@app.command("list")
@handle_errors
def list_(user: UserOpt, data_dir: DataDirOpt = None, config: ConfigOpt = None) -> None:
    """List the user's connections (and their teams')."""
    settings = build_settings(config=config, data_dir=data_dir)

    async def run() -> None:
        async with accounts_context(settings) as ctx:
            owner = await user_by_email(ctx, user)
            rows = await ctx.connections.list(owner.id)
        # Plain tab-separated lines: ids must stay whole and greppable in any terminal width.
        typer.echo("id\tname\tkind\turl\tstatus")
        for row in rows:
            status = (
                "needs reconnect"
                if row.needs_reconnect
                else {None: "not tested", True: "ok", False: "failed"}[row.last_test_ok]
            )
            typer.echo(f"{row.id}\t{row.name}\t{row.kind}\t{row.base_url}\t{status}")

    asyncio.run(run())


@app.command("test")
@handle_errors
def run_test(
    user: UserOpt,
    connection_id: Annotated[str, typer.Argument(help="Connection id (see `list`).")],
    data_dir: DataDirOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Test a connection now; exit code 1 when it fails."""
    settings = build_settings(config=config, data_dir=data_dir)

    async def run() -> bool:
        async with accounts_context(settings) as ctx:
            owner = await user_by_email(ctx, user)
            outcome = await ctx.connections.test(owner.id, connection_id)
        console.print(("ok: " if outcome.ok else "FAILED: ") + outcome.message)
        return outcome.ok

    if not asyncio.run(run()):
        raise typer.Exit(EXIT_ERROR)


@app.command("remove")
@handle_errors
def remove(
    user: UserOpt,
    connection_id: Annotated[str, typer.Argument(help="Connection id (see `list`).")],
    data_dir: DataDirOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Delete a connection and its secrets."""
    settings = build_settings(config=config, data_dir=data_dir)

    async def run() -> None:
        async with accounts_context(settings) as ctx:
            owner = await user_by_email(ctx, user)
            await ctx.connections.delete(owner.id, connection_id)

    asyncio.run(run())
    console.print(f"removed connection {connection_id}")


def register(root: typer.Typer) -> None:
    """Add ``connections`` to the root CLI."""
    root.add_typer(app, name="connections")
