"""``jirabridge users``: local accounts."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from jirabridge.cli.accounts_common import accounts_context, user_by_email
from jirabridge.cli.common import ConfigOpt, DataDirOpt, build_settings, console, handle_errors
from jirabridge.errors import ConflictError
from jirabridge.store.account_models import UserRole
from jirabridge.store.accounts import AuditLog, TeamRepository
from jirabridge.store.db import write_transaction

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


@app.command("add-to-team")
@handle_errors
def add_to_team(
    email: Annotated[str, typer.Option("--email", help="The user's e-mail.")],
    team: Annotated[str, typer.Option("--team", help="Team name (created when new).")],
    data_dir: DataDirOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Make a user a member of a team, so they share the team's connections."""
    settings = build_settings(config=config, data_dir=data_dir)

    async def run() -> str:
        async with accounts_context(settings) as ctx:
            user = await user_by_email(ctx, email)
            async with write_transaction(ctx.sessions) as session:
                teams = TeamRepository(session)
                found = next(
                    (t for t in await teams.teams_of(user.id) if t.name == team.strip()), None
                )
                if found is None:
                    try:
                        found = await teams.create(team)
                    except ConflictError:
                        found = await teams.by_name(team)
                await teams.add_member(found.id, user.id)
                await AuditLog(session).record(
                    "team.member_added",
                    target_type="team",
                    target_id=found.id,
                    details={"user_id": user.id},
                )
                return found.id

    team_id = asyncio.run(run())
    console.print(f"{email} is a member of team {team} ({team_id})")


def register(root: typer.Typer) -> None:
    """Add ``users`` to the root CLI."""
    root.add_typer(app, name="users")
