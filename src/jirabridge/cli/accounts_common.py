"""What the account, connection and secrets commands share: the services on a migrated
database, and the user a command acts for."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from jirabridge.errors import NotFoundError
from jirabridge.service.account_wiring import AccountsContext, build_accounts_context
from jirabridge.service.settings import Settings
from jirabridge.store import db, migrations
from jirabridge.store.account_models import UserRow
from jirabridge.store.accounts import UserRepository

__all__ = ["accounts_context", "user_by_email"]


@asynccontextmanager
async def accounts_context(settings: Settings) -> AsyncIterator[AccountsContext]:
    """The accounts services on the configured database (SQLite is migrated on the way)."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    url = settings.effective_database_url
    engine = db.make_engine(url)
    try:
        await db.ping(engine)
        if settings.is_sqlite:
            await migrations.upgrade_async(url)
        else:
            await migrations.check_at_head_async(url)
        yield build_accounts_context(settings, db.session_factory(engine))
    finally:
        await engine.dispose()


async def user_by_email(context: AccountsContext, email: str) -> UserRow:
    """The user with this e-mail, or a NotFoundError naming it."""
    async with db.read_transaction(context.sessions) as session:
        user = await UserRepository(session).by_email(email)
    if user is None:
        raise NotFoundError(f"no user with e-mail {email}; create one first")
    return user
