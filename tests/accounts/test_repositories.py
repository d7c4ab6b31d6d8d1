"""Repositories: scoping by owner/team, uniqueness, single-use OAuth states, audit log."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from jirabridge.errors import ConflictError, NotFoundError, ValidationError
from jirabridge.store.account_models import JiraConnectionRow, UserRole, new_id
from jirabridge.store.accounts import (
    ApiKeyRepository,
    AuditLog,
    ConnectionRepository,
    OAuthStateRepository,
    SessionRepository,
    TeamRepository,
    UserRepository,
    find_api_key_by_prefix_unscoped,
)
from jirabridge.store.db import write_transaction

Sessions = async_sessionmaker[AsyncSession]
NOW = datetime(2026, 11, 22, 3, 0, tzinfo=UTC)


async def make_users(sessions: Sessions, *emails: str) -> list[str]:
    async with write_transaction(sessions) as s:
        repo = UserRepository(s)
        return [(await repo.create(email=e, password_hash=None)).id for e in emails]


def conn_row(owner_user: str | None = None, owner_team: str | None = None, name: str = "c"):  # type: ignore[no-untyped-def]
    return JiraConnectionRow(
        id=new_id(),
        owner_user_id=owner_user,
        owner_team_id=owner_team,
        name=name,
        kind="cloud_token",
        base_url="https://acme.atlassian.net",
        email="a@acme.test",
    )


async def test_users_unique_case_insensitive(acc_sessions: Sessions) -> None:
    await make_users(acc_sessions, "Alice@Example.com")
    with pytest.raises(ConflictError):
        await make_users(acc_sessions, "alice@example.COM")
    async with write_transaction(acc_sessions) as s:
        found = await UserRepository(s).by_email(" ALICE@example.com ")
        assert found is not None
        assert found.email == "alice@example.com"
        assert found.role == UserRole.MEMBER
    with pytest.raises(ValidationError):
        await make_users(acc_sessions, "not-an-email")


async def test_connections_scoped_to_owner_and_team(acc_sessions: Sessions) -> None:
    alice, bob, carol = await make_users(acc_sessions, "a@x.io", "b@x.io", "c@x.io")
    async with write_transaction(acc_sessions) as s:
        teams = TeamRepository(s)
        team = await teams.create("Platform")
        await teams.add_member(team.id, alice)
        await teams.add_member(team.id, carol)
        own = await ConnectionRepository(s, alice).add(conn_row(owner_user=alice, name="mine"))
        shared = await ConnectionRepository(s, alice).add(conn_row(owner_team=team.id, name="t"))
        bobs = await ConnectionRepository(s, bob).add(conn_row(owner_user=bob, name="bob"))
    async with write_transaction(acc_sessions) as s:
        assert {c.id for c in await ConnectionRepository(s, alice).list()} == {own.id, shared.id}
        assert {c.id for c in await ConnectionRepository(s, carol).list()} == {shared.id}
        assert {c.id for c in await ConnectionRepository(s, bob).list()} == {bobs.id}
        assert await ConnectionRepository(s, bob).count() == 1
        for cid in (own.id, shared.id):
            with pytest.raises(NotFoundError):
                await ConnectionRepository(s, bob).get(cid)
            with pytest.raises(NotFoundError):
                await ConnectionRepository(s, bob).get(cid, for_update=True)
            with pytest.raises(NotFoundError):
                await ConnectionRepository(s, bob).delete(cid)
        with pytest.raises(NotFoundError):
            await ConnectionRepository(s, carol).get(own.id)
        assert (await ConnectionRepository(s, carol).get(shared.id)).name == "t"


async def test_cannot_create_for_someone_else_or_foreign_team(acc_sessions: Sessions) -> None:
    alice, bob = await make_users(acc_sessions, "a@x.io", "b@x.io")
    async with write_transaction(acc_sessions) as s:
        team = await TeamRepository(s).create("Only Alice")
        await TeamRepository(s).add_member(team.id, alice)
    async with write_transaction(acc_sessions) as s:
        with pytest.raises(NotFoundError):
            await ConnectionRepository(s, bob).add(conn_row(owner_user=alice))
        with pytest.raises(NotFoundError):
            await ConnectionRepository(s, bob).add(conn_row(owner_team=team.id))


async def test_leaving_a_team_hides_its_connections(acc_sessions: Sessions) -> None:
    (alice,) = await make_users(acc_sessions, "a@x.io")
    async with write_transaction(acc_sessions) as s:
        team = await TeamRepository(s).create("T")
        await TeamRepository(s).add_member(team.id, alice)
        row = await ConnectionRepository(s, alice).add(conn_row(owner_team=team.id))
        await TeamRepository(s).remove_member(team.id, alice)
    async with write_transaction(acc_sessions) as s:
        with pytest.raises(NotFoundError):
            await ConnectionRepository(s, alice).get(row.id)


async def test_api_keys_scoped_and_revocable(acc_sessions: Sessions) -> None:
    alice, bob = await make_users(acc_sessions, "a@x.io", "b@x.io")
    async with write_transaction(acc_sessions) as s:
        key = await ApiKeyRepository(s, alice).create(
            name="ci", prefix="abcdefghijkl", key_hash="0" * 64, scopes=["write", "read"]
        )
        assert key.scopes == "read write"
    async with write_transaction(acc_sessions) as s:
        with pytest.raises(NotFoundError):
            await ApiKeyRepository(s, bob).revoke(key.id)
        assert await ApiKeyRepository(s, bob).list() == []
        found = await find_api_key_by_prefix_unscoped(s, "abcdefghijkl")
        assert found is not None
        assert found[1].id == alice
        revoked = await ApiKeyRepository(s, alice).revoke(key.id, now=NOW)
        assert revoked.revoked_at == NOW


async def test_sessions_expire_and_revoke(acc_sessions: Sessions) -> None:
    (alice,) = await make_users(acc_sessions, "a@x.io")
    async with write_transaction(acc_sessions) as s:
        await SessionRepository(s).create(
            token_hash="h1", user_id=alice, expires_at=NOW + timedelta(hours=1)
        )
    async with write_transaction(acc_sessions) as s:
        repo = SessionRepository(s)
        assert (await repo.active_user("h1", NOW)) is not None
        assert (await repo.active_user("h1", NOW + timedelta(hours=2))) is None
        assert (await repo.active_user("nope", NOW)) is None
        await repo.revoke("h1", NOW)
        assert (await repo.active_user("h1", NOW)) is None


async def test_oauth_state_consumed_once(acc_sessions: Sessions) -> None:
    alice, bob = await make_users(acc_sessions, "a@x.io", "b@x.io")
    async with write_transaction(acc_sessions) as s:
        await OAuthStateRepository(s).add(
            nonce="n1",
            user_id=alice,
            session_fingerprint="f",
            expires_at=NOW + timedelta(minutes=10),
        )
    async with write_transaction(acc_sessions) as s:
        repo = OAuthStateRepository(s)
        assert not await repo.consume(nonce="n1", user_id=bob, session_fingerprint="f", now=NOW)
        assert not await repo.consume(nonce="n1", user_id=alice, session_fingerprint="g", now=NOW)
        late = NOW + timedelta(minutes=10)
        assert not await repo.consume(nonce="n1", user_id=alice, session_fingerprint="f", now=late)
        assert await repo.consume(nonce="n1", user_id=alice, session_fingerprint="f", now=NOW)
        assert not await repo.consume(nonce="n1", user_id=alice, session_fingerprint="f", now=NOW)


async def test_audit_log_pages_newest_first(acc_sessions: Sessions) -> None:
    async with write_transaction(acc_sessions) as s:
        log = AuditLog(s)
        for i in range(5):
            await log.record(
                "connection.created" if i % 2 == 0 else "api_key.revoked",
                target_type="connection",
                target_id=f"t{i}",
                at=NOW + timedelta(seconds=i),
            )
    async with write_transaction(acc_sessions) as s:
        page = await AuditLog(s).page_unscoped(limit=2)
        assert page.total == 5
        assert [e.target_id for e in page.events] == ["t4", "t3"]
        filtered = await AuditLog(s).page_unscoped(action_prefix="connection.")
        assert filtered.total == 3
        assert all(e.action == "connection.created" for e in filtered.events)
        assert page.events[0].at == NOW + timedelta(seconds=4)
