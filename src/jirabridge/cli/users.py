"""``jirabridge users``: local accounts."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from jirabridge.cli.accounts_common import accounts_context
from jirabridge.cli.common import ConfigOpt, DataDirOpt, build_settings, console, handle_errors
from jirabridge.store.account_models import UserRole

app = typer.Typer(help="Local user accounts.", no_args_is_help=True)

PASSWORD_ENV = "JIRABRIDGE_ADMIN_PASSWORD"  # noqa: S105 - the name of a variable


@app.command("create-admin")
@handle_errors
def create_admin(
    email: Annotated[str, typer.Option("--email", help="The admin's e-mail (login name).")],
    password: Annotated[
        str | None,
        typer.Option(
            "--password",
            help=f"Password (prompted when absent; or set {PASSWORD_ENV}).",
            envvar=PASSWORD_ENV,
        ),
    ] = None,
    data_dir: DataDirOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Create an administrator (does nothing if the e-mail already exists)."""
    settings = build_settings(config=config, data_dir=data_dir)
    secret = password or typer.prompt("Password", hide_input=True, confirmation_prompt=True)

    async def run() -> tuple[str, bool]:
        async with accounts_context(settings) as ctx:
            user, created = await ctx.accounts.ensure_admin(email=email, password=secret)
            return user.email, created

    login, created = asyncio.run(run())
    if created:
        console.print(f"created admin {login}")
    else:
        console.print(f"{login} already exists; nothing changed")


@app.command("create")
@handle_errors
def create(
    email: Annotated[str, typer.Option("--email", help="The user's e-mail (login name).")],
    password: Annotated[
        str | None, typer.Option("--password", help="Password (prompted when absent).")
    ] = None,
    admin: Annotated[bool, typer.Option("--admin", help="Make an administrator.")] = False,
    data_dir: DataDirOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Create a user."""
    settings = build_settings(config=config, data_dir=data_dir)
    secret = password or typer.prompt("Password", hide_input=True, confirmation_prompt=True)

    async def run() -> str:
        async with accounts_context(settings) as ctx:
            role = UserRole.ADMIN if admin else UserRole.MEMBER
            return (await ctx.accounts.create_user(email=email, password=secret, role=role)).email

    console.print(f"created user {asyncio.run(run())}")


def register(root: typer.Typer) -> None:
    """Add ``users`` to the root CLI."""
    root.add_typer(app, name="users")
