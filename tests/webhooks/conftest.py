"""Fixtures of the webhook tests: sessions, a user, a key ring, endpoints, a worker factory.

Database fixtures come from tests/conftest.py (``engine`` runs each test on SQLite and
PostgreSQL).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from jirabridge.store.account_models import ConnectionKind, JiraConnectionRow, UserRow
from jirabridge.store.db import session_factory
from jirabridge.store.secrets import SecretBox, generate_key
from jirabridge.store.webhooks import Owner

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "webhooks"


class ManualClock:
    """A clock tests move by hand (seconds since the epoch)."""

    def __init__(self, start: float = 1_790_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Session factory on the migrated database (each backend)."""
    return session_factory(engine)


@pytest.fixture
def box() -> SecretBox:
    """A key ring with one fresh key."""
    return SecretBox([generate_key()])


@pytest.fixture
def clock() -> ManualClock:
    """A manual clock."""
    return ManualClock()


async def make_user(sessions: async_sessionmaker[AsyncSession], email: str) -> Owner:
    """Insert a user and return them as an :class:`Owner`."""
    async with sessions() as session:
        user = UserRow(email=email, display_name=email, role="member", is_active=True)
        session.add(user)
        await session.commit()
        return Owner(user_id=user.id)


@pytest.fixture
async def owner(sessions: async_sessionmaker[AsyncSession]) -> Owner:
    """The user who owns the test's endpoints."""
    return await make_user(sessions, "owner@example.com")


async def make_connection(sessions: async_sessionmaker[AsyncSession], owner: Owner) -> str:
    """Insert a Jira connection row of ``owner`` (no secret: tests never call out with it)."""
    async with sessions() as session:
        row = JiraConnectionRow(
            owner_user_id=owner.user_id,
            name="sim",
            kind=ConnectionKind.OAUTH.value,
            base_url="http://sim.test",
        )
        session.add(row)
        await session.commit()
        return row.id
