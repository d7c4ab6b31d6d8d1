"""Fixtures of the webhook tests: sessions, a user, a key ring, endpoints, a worker factory.

Database fixtures come from tests/conftest.py (``engine`` runs each test on SQLite and
PostgreSQL).
"""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from jirabridge.service.webhook_intake import create_endpoint
from jirabridge.store.account_models import ConnectionKind, JiraConnectionRow, UserRow
from jirabridge.store.db import session_factory
from jirabridge.store.secrets import SecretBox, generate_key
from jirabridge.store.webhook_models import EndpointKind, WebhookSource
from jirabridge.store.webhooks import Owner
from jirabridge.sync.status_sync import StatusSync

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


async def make_connection(
    sessions: async_sessionmaker[AsyncSession],
    owner: Owner,
    kind: ConnectionKind = ConnectionKind.OAUTH,
) -> str:
    """Insert a Jira connection row of ``owner`` (no secret: tests never call out with it)."""
    async with sessions() as session:
        row = JiraConnectionRow(
            owner_user_id=owner.user_id,
            name="sim",
            kind=kind.value,
            base_url="http://sim.test",
        )
        session.add(row)
        await session.commit()
        return row.id


async def transition(sim: httpx.AsyncClient, key: str, name: str) -> None:
    """Move ``key`` through the simulator's transition called ``name``."""
    listed = (await sim.get(f"/rest/api/3/issue/{key}/transitions")).json()
    [tid] = [t["id"] for t in listed["transitions"] if t["name"] == name]
    answer = await sim.post(
        f"/rest/api/3/issue/{key}/transitions", json={"transition": {"id": tid}}
    )
    assert answer.status_code == 204


#: The password of users the app tests create.
PASSWORD = "a long enough password 1"


async def login(client: httpx.AsyncClient, email: str) -> str:
    """Log ``client`` in through the login form; returns the session's CSRF token."""
    page = await client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token
    answer = await client.post(
        "/login", data={"email": email, "password": PASSWORD, "csrf_token": token.group(1)}
    )
    assert answer.status_code == 303
    listing = await client.get("/events")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', listing.text)
    assert csrf
    return csrf.group(1)


async def follow(
    sessions: async_sessionmaker[AsyncSession],
    owner_user_id: str,
    site: str,
    key: str,
    subject: str,
) -> str:
    """Link a story ``subject`` of the user to ``key`` (mirrored as To Do); the link id."""
    async with sessions() as session:
        row = await StatusSync.link(
            session,
            owner_user_id=owner_user_id,
            owner_team_id=None,
            connection_id=site,
            issue_key=key,
            subject_kind="story",
            subject_id=subject,
            local_state="todo",
            jira_status="To Do",
        )
        await session.commit()
        return row.id


async def add_endpoint(
    sessions: async_sessionmaker[AsyncSession],
    box: SecretBox,
    owner: Owner,
    kind: EndpointKind,
    connection_id: str | None,
    secret: str | None = None,
) -> tuple[str, str]:
    """Create a Jira endpoint of ``owner``; its id and secret."""
    async with sessions() as session:
        endpoint, plain = await create_endpoint(
            session,
            box,
            owner_user_id=owner.user_id,
            name=f"{kind.value} endpoint",
            source=WebhookSource.JIRA,
            kind=kind,
            connection_id=connection_id,
            secret=secret,
        )
        await session.commit()
        return endpoint.id, plain
