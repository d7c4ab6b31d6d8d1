"""The demo's accounts: an admin to log in with and a working connection to the simulator."""

from __future__ import annotations

from dataclasses import dataclass

from jirabridge.cli.accounts_common import accounts_context
from jirabridge.service.connections import ConnectionChanges, ConnectionInput
from jirabridge.service.settings import Settings
from jirabridge.store.account_models import ConnectionKind

__all__ = ["DEMO_ADMIN_EMAIL", "DEMO_ADMIN_PASSWORD", "DemoLogin", "seed_demo_accounts"]

DEMO_ADMIN_EMAIL = "admin@demo.test"
#: The demo listens on loopback only and says so; a fixed password keeps the README simple.
DEMO_ADMIN_PASSWORD = "jirabridge-demo"  # noqa: S105 - the documented demo login
DEMO_CONNECTION_NAME = "Simulated Jira"


@dataclass(frozen=True)
class DemoLogin:
    """What the demo prints."""

    email: str
    password: str
    connection_id: str
    connection_ok: bool
    message: str


async def seed_demo_accounts(
    settings: Settings, *, sim_url: str, sim_email: str, sim_token: str
) -> DemoLogin:
    """Create the demo admin and its token connection to the simulator (idempotent; the
    connection follows the simulator to its current URL)."""
    async with accounts_context(settings) as ctx:
        admin, _ = await ctx.accounts.ensure_admin(
            email=DEMO_ADMIN_EMAIL, password=DEMO_ADMIN_PASSWORD
        )
        existing = next(
            (c for c in await ctx.connections.list(admin.id) if c.name == DEMO_CONNECTION_NAME),
            None,
        )
        if existing is None:
            row, _ = await ctx.connections.create(
                admin.id,
                ConnectionInput(
                    name=DEMO_CONNECTION_NAME,
                    kind=ConnectionKind.CLOUD_TOKEN,
                    base_url=sim_url,
                    email=sim_email,
                    secret=sim_token,
                ),
                force=True,
            )
            connection_id = row.id
        else:
            connection_id = existing.id
            await ctx.connections.update(
                admin.id,
                connection_id,
                ConnectionChanges(base_url=sim_url, email=sim_email, secret=sim_token),
            )
        outcome = await ctx.connections.test(admin.id, connection_id)
    return DemoLogin(
        email=DEMO_ADMIN_EMAIL,
        password=DEMO_ADMIN_PASSWORD,
        connection_id=connection_id,
        connection_ok=outcome.ok,
        message=outcome.message,
    )
