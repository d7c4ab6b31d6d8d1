"""``jirabridge webhooks``: receiving endpoints, deliveries, the dead-letter list, replay."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Annotated

import typer

from jirabridge.cli.accounts_common import accounts_context, user_by_email
from jirabridge.cli.common import ConfigOpt, DataDirOpt, build_settings, console, handle_errors
from jirabridge.service.settings import Settings
from jirabridge.service.webhook_wiring import (
    NewEndpoint,
    WebhooksContext,
    build_webhooks_context,
    new_endpoint,
)
from jirabridge.store.webhook_models import DeliveryStatus, EndpointKind, WebhookSource
from jirabridge.store.webhooks import Owner, list_deliveries, list_endpoints, replay_deliveries

__all__ = ["app", "register"]

app = typer.Typer(help="Webhook endpoints, deliveries and replay.", no_args_is_help=True)

UserOpt = Annotated[str, typer.Option("--user", help="E-mail of the owning user.")]


@asynccontextmanager
async def _context(settings: Settings, email: str) -> AsyncIterator[tuple[WebhooksContext, Owner]]:
    async with accounts_context(settings) as accounts:
        user = await user_by_email(accounts, email)
        yield build_webhooks_context(settings, accounts.sessions), Owner(user_id=user.id)


@app.command("create")
@handle_errors
def create(
    user: UserOpt,
    name: Annotated[str, typer.Option("--name", help="A name for the endpoint.")],
    source: Annotated[WebhookSource, typer.Option("--source")] = WebhookSource.JIRA,
    connection: Annotated[
        str | None, typer.Option("--connection", help="Jira connection id the events belong to.")
    ] = None,
    data_dir: DataDirOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Create an admin (Jira) or GitHub endpoint; prints its URL and secret once."""
    settings = build_settings(config=config, data_dir=data_dir)
    kind = EndpointKind.GITHUB if source == WebhookSource.GITHUB else EndpointKind.ADMIN

    async def run() -> NewEndpoint:
        async with _context(settings, user) as (ctx, owner):
            return await new_endpoint(
                ctx, owner, name=name, source=source, kind=kind, connection_id=connection
            )

    created = asyncio.run(run())
    console.print(f"URL:    {created.url}")
    console.print(f"secret: {created.secret}  (shown once; store it in the sender now)")
    console.print(created.instructions)


@app.command("endpoints")
@handle_errors
def endpoints(user: UserOpt, data_dir: DataDirOpt = None, config: ConfigOpt = None) -> None:
    """List the user's endpoints and when each last received an event."""
    settings = build_settings(config=config, data_dir=data_dir)

    async def run() -> list[tuple[str, str, str, str, datetime | None]]:
        async with _context(settings, user) as (ctx, owner), ctx.sessions() as session:
            rows = await list_endpoints(session, owner)
            return [(r.id, r.name, r.source, r.kind, r.last_event_at) for r in rows]

    for endpoint_id, name, source, kind, last in asyncio.run(run()):
        seen = last.isoformat(timespec="seconds") if last else "never"
        console.print(f"{endpoint_id}  {source}/{kind}  {name}  last event: {seen}")


@app.command("deliveries")
@handle_errors
def deliveries(
    user: UserOpt,
    dead: Annotated[bool, typer.Option("--dead", help="Only the dead-letter list.")] = False,
    limit: Annotated[int, typer.Option("--limit", min=1, max=1000)] = 50,
    data_dir: DataDirOpt = None,
    config: ConfigOpt = None,
) -> None:
    """List deliveries, newest first: id, source, event, delivery id, status, attempts, error."""
    settings = build_settings(config=config, data_dir=data_dir)

    async def run() -> list[str]:
        async with _context(settings, user) as (ctx, owner), ctx.sessions() as session:
            rows = await list_deliveries(
                session, owner, status=DeliveryStatus.DEAD if dead else None, limit=limit
            )
            return [
                f"{r.id}  {r.source}  {r.event}  {r.delivery_id}  {r.status}  "
                f"attempts={r.attempts}  {r.last_error or ''}".rstrip()
                for r in rows
            ]

    for line in asyncio.run(run()):
        console.print(line, markup=False)


@app.command("replay")
@handle_errors
def replay(
    user: UserOpt,
    delivery: Annotated[
        int | None, typer.Argument(help="Delivery number; all dead ones when omitted.")
    ] = None,
    data_dir: DataDirOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Queue one delivery, or every dead one, for processing again."""
    settings = build_settings(config=config, data_dir=data_dir)

    async def run() -> int:
        async with _context(settings, user) as (ctx, owner), ctx.sessions() as session:
            queued = await replay_deliveries(
                session, owner, now=datetime.now(UTC), delivery_pk=delivery
            )
            await session.commit()
            return queued

    console.print(f"queued {asyncio.run(run())} deliveries")


@app.command("process")
@handle_errors
def process(data_dir: DataDirOpt = None, config: ConfigOpt = None) -> None:
    """Process every due delivery now (what the service's worker does continuously)."""
    settings = build_settings(config=config, data_dir=data_dir)

    async def run() -> tuple[int, int, int]:
        async with accounts_context(settings) as accounts:
            ctx = build_webhooks_context(settings, accounts.sessions)
            report = await ctx.worker.drain()
            return len(report.done), len(report.retrying), len(report.dead)

    done, retrying, dead = asyncio.run(run())
    console.print(f"done {done}, retrying {retrying}, dead {dead}")


def register(root: typer.Typer) -> None:
    """Add ``webhooks`` to the root CLI."""
    root.add_typer(app, name="webhooks")
