"""OAuth 3LO against a strict fake authorization server: the URL, the exchange, and
ensure_valid_token's single-flight refresh across coroutines and processes."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from jirabridge.errors import ReauthorizationRequired
from jirabridge.service.atlassian_oauth import AtlassianOAuth, OAuthAppConfig
from jirabridge.service.oauth_tokens import OAuthTokenManager
from jirabridge.store.account_models import AuditEventRow, JiraConnectionRow, new_id
from jirabridge.store.accounts import UserRepository, get_connection_unscoped
from jirabridge.store.connection_secrets import ConnectionSecrets
from jirabridge.store.db import read_transaction, write_transaction
from jirabridge.store.secrets import SecretBox, generate_key

from .fake_atlassian import CLIENT_ID, CLIENT_SECRET, FakeAtlassian, serve

Sessions = async_sessionmaker[AsyncSession]
KEY = generate_key()
T0 = datetime(2026, 11, 22, 3, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def config(base: str = "http://auth.fake") -> OAuthAppConfig:
    return OAuthAppConfig(
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        redirect_uri="http://127.0.0.1:8080/connections/oauth/callback",
        authorize_url=f"{base}/authorize",
        token_url=f"{base}/oauth/token",
        api_base=base,
    )


@pytest.fixture
def fake() -> FakeAtlassian:
    return FakeAtlassian()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def oauth(fake: FakeAtlassian, clock: Clock) -> AtlassianOAuth:
    return AtlassianOAuth(config(), transport=httpx.ASGITransport(app=fake.app), clock=clock)


@pytest.fixture
def secrets_() -> ConnectionSecrets:
    return ConnectionSecrets(SecretBox([KEY]))


async def seed_connection(
    sessions: Sessions, secrets: ConnectionSecrets, oauth: AtlassianOAuth, fake: FakeAtlassian
) -> str:
    tokens = await oauth.exchange_code(fake.issue_code())
    async with write_transaction(sessions) as s:
        user = await UserRepository(s).create(email=f"{new_id()}@x.io", password_hash=None)
        row = JiraConnectionRow(
            id=new_id(),
            owner_user_id=user.id,
            name="acme oauth",
            kind="oauth",
            base_url="https://acme.atlassian.net",
            cloud_id="cloud-1",
        )
        secrets.set_oauth(
            row,
            access_token=tokens.access_token,
            refresh_token=tokens.refresh_token,
            expires_at=tokens.expires_at,
        )
        s.add(row)
    return row.id


def test_authorization_url_has_atlassian_parameters(oauth: AtlassianOAuth) -> None:
    url = oauth.authorization_url("the-state")
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert parts.path == "/authorize"
    assert query["audience"] == "api.atlassian.com"
    assert query["prompt"] == "consent"
    assert query["response_type"] == "code"
    assert query["client_id"] == CLIENT_ID
    assert query["state"] == "the-state"
    assert query["redirect_uri"].endswith("/connections/oauth/callback")
    assert "offline_access" in query["scope"].split()
    assert CLIENT_SECRET not in url


def test_config_requires_client_and_offline_access() -> None:
    from jirabridge.errors import ConfigError

    with pytest.raises(ConfigError, match="CLIENT_ID"):
        OAuthAppConfig(client_id="", client_secret="", redirect_uri="x")
    with pytest.raises(ConfigError, match="offline_access"):
        OAuthAppConfig(client_id="a", client_secret="b", redirect_uri="x", scopes=("read:me",))
    assert CLIENT_SECRET not in repr(config())


async def test_exchange_and_accessible_resources(
    oauth: AtlassianOAuth, fake: FakeAtlassian, clock: Clock
) -> None:
    sites = [
        {"id": "c1", "name": "one", "url": "https://one.atlassian.net", "scopes": ["a"]},
        {"id": "c2", "name": "two", "url": "https://two.atlassian.net"},
    ]
    tokens = await oauth.exchange_code(fake.issue_code(sites))
    assert tokens.expires_at == clock.now + timedelta(hours=1)
    assert tokens.access_token not in repr(tokens)
    found = await oauth.accessible_resources(tokens.access_token)
    assert [(s.id, s.name, s.url) for s in found] == [
        ("c1", "one", "https://one.atlassian.net"),
        ("c2", "two", "https://two.atlassian.net"),
    ]
    assert found[0].scopes == ("a",)


async def test_bad_code_and_bad_bearer_are_reauthorization(oauth: AtlassianOAuth) -> None:
    with pytest.raises(ReauthorizationRequired, match="invalid_grant"):
        await oauth.exchange_code("never-issued")
    with pytest.raises(ReauthorizationRequired):
        await oauth.accessible_resources("nope")


async def test_token_endpoint_down_is_a_transport_error(clock: Clock) -> None:
    from jirabridge.errors import ConnectionFailedError, ServerError

    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused")

    broken = AtlassianOAuth(config(), transport=httpx.MockTransport(down), clock=clock)
    with pytest.raises(ConnectionFailedError):
        await broken.refresh("rt")

    def five_hundred(request: httpx.Request) -> httpx.Response:
        return httpx.Response(502, text="bad gateway")

    flaky = AtlassianOAuth(config(), transport=httpx.MockTransport(five_hundred), clock=clock)
    with pytest.raises(ServerError):
        await flaky.refresh("rt")


async def test_fresh_token_is_not_refreshed(
    acc_sessions: Sessions,
    secrets_: ConnectionSecrets,
    oauth: AtlassianOAuth,
    fake: FakeAtlassian,
    clock: Clock,
) -> None:
    cid = await seed_connection(acc_sessions, secrets_, oauth, fake)
    manager = OAuthTokenManager(acc_sessions, secrets_, oauth.refresh, clock=clock)
    clock.now += timedelta(minutes=54, seconds=59)
    first = await manager.ensure_valid_token(cid)
    assert fake.refresh_count == 0
    assert first.version == 1
    assert first.cloud_id == "cloud-1"


async def test_hundred_concurrent_calls_at_expiry_refresh_once(
    acc_sessions: Sessions,
    secrets_: ConnectionSecrets,
    oauth: AtlassianOAuth,
    fake: FakeAtlassian,
    clock: Clock,
) -> None:
    cid = await seed_connection(acc_sessions, secrets_, oauth, fake)
    manager = OAuthTokenManager(acc_sessions, secrets_, oauth.refresh, clock=clock)
    clock.now += timedelta(minutes=56)  # 4 minutes left: inside the 5-minute margin
    results = await asyncio.gather(*(manager.ensure_valid_token(cid) for _ in range(100)))
    assert fake.refresh_count == 1
    assert manager.refresh_count == 1
    assert fake.reuse_count == 0
    assert len({r.token for r in results}) == 1
    assert {r.version for r in results} == {2}
    async with read_transaction(acc_sessions) as s:
        row = await get_connection_unscoped(s, cid)
        stored = secrets_.oauth(row)
        assert stored.refresh_token == next(iter(fake.grants.values())).refresh
        assert stored.expires_at == clock.now + timedelta(hours=1)
        events = (await s.execute(select(AuditEventRow.action))).scalars().all()
        assert events.count("connection.refreshed") == 1


async def test_refresh_on_401_once_per_rejected_version(
    acc_sessions: Sessions,
    secrets_: ConnectionSecrets,
    oauth: AtlassianOAuth,
    fake: FakeAtlassian,
    clock: Clock,
) -> None:
    cid = await seed_connection(acc_sessions, secrets_, oauth, fake)
    manager = OAuthTokenManager(acc_sessions, secrets_, oauth.refresh, clock=clock)
    token = await manager.ensure_valid_token(cid)
    # Jira said 401 to `token` (several requests at once): one refresh in all.
    again = await asyncio.gather(
        *(manager.ensure_valid_token(cid, rejected_version=token.version) for _ in range(10))
    )
    assert fake.refresh_count == 1
    assert {a.version for a in again} == {token.version + 1}
    assert again[0].token != token.token


async def test_invalid_grant_marks_needs_reconnect(
    acc_sessions: Sessions,
    secrets_: ConnectionSecrets,
    oauth: AtlassianOAuth,
    fake: FakeAtlassian,
    clock: Clock,
) -> None:
    cid = await seed_connection(acc_sessions, secrets_, oauth, fake)
    manager = OAuthTokenManager(acc_sessions, secrets_, oauth.refresh, clock=clock)
    fake.kill_all()
    clock.now += timedelta(hours=2)
    with pytest.raises(ReauthorizationRequired, match="connected again"):
        await manager.ensure_valid_token(cid)
    async with read_transaction(acc_sessions) as s:
        row = await get_connection_unscoped(s, cid)
        assert row.needs_reconnect
        event = (
            await s.execute(
                select(AuditEventRow).where(AuditEventRow.action == "connection.refresh_failed")
            )
        ).scalar_one()
        assert event.target_id == cid
        assert event.outcome == "failed"
    # No further calls to Atlassian once the grant is known dead.
    with pytest.raises(ReauthorizationRequired):
        await manager.ensure_valid_token(cid)
    assert manager.refresh_count == 1


async def test_database_holds_no_token_in_clear(
    acc_sessions: Sessions,
    secrets_: ConnectionSecrets,
    oauth: AtlassianOAuth,
    fake: FakeAtlassian,
    clock: Clock,
) -> None:
    cid = await seed_connection(acc_sessions, secrets_, oauth, fake)
    manager = OAuthTokenManager(acc_sessions, secrets_, oauth.refresh, clock=clock)
    clock.now += timedelta(hours=2)
    token = await manager.ensure_valid_token(cid)
    grant = next(iter(fake.grants.values()))
    async with read_transaction(acc_sessions) as s:
        dump = []
        for table in ("jira_connections", "audit_events"):
            rows = (await s.execute(text(f"SELECT * FROM {table}"))).all()  # noqa: S608
            dump.extend(str(v) for r in rows for v in r)
    blob = "\n".join(dump)
    assert token.token not in blob
    assert grant.refresh not in blob
    assert cid in blob


@pytest.fixture
def live_fake() -> Iterator[tuple[FakeAtlassian, str]]:
    fake = FakeAtlassian(refresh_delay=0.5)
    with serve(fake.app) as base:
        yield fake, base


@pytest.mark.slow
async def test_two_processes_racing_refresh_once(
    acc_db_url: str, acc_sessions: Sessions, live_fake: tuple[FakeAtlassian, str], tmp_path: Path
) -> None:
    fake, base = live_fake
    secrets = ConnectionSecrets(SecretBox([KEY]))
    oauth = AtlassianOAuth(config(base))
    cid = await seed_connection(acc_sessions, secrets, oauth, fake)
    async with write_transaction(acc_sessions) as s:
        row = await get_connection_unscoped(s, cid)
        row.oauth_expires_at = datetime.now(UTC) + timedelta(minutes=1)
    worker = Path(__file__).with_name("race_worker.py")
    env = {**os.environ, "JIRABRIDGE_ENCRYPTION_KEYS": KEY}
    env.pop("JIRABRIDGE_ENCRYPTION_KEY_FILE", None)
    procs = [
        subprocess.Popen(
            [sys.executable, str(worker), acc_db_url, base, cid, "20"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            text=True,
        )
        for _ in range(2)
    ]
    for proc in procs:
        assert proc.stdout is not None
        ready = await asyncio.to_thread(proc.stdout.readline)
        assert ready.strip() == "ready", ready
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()
    outputs = []
    for proc in procs:
        out, err = await asyncio.to_thread(proc.communicate, timeout=120)
        assert proc.returncode == 0, err
        outputs.append(json.loads(out.strip().splitlines()[-1]))
    assert fake.refresh_count == 1
    assert fake.reuse_count == 0
    assert sum(o["refreshes"] for o in outputs) == 1
    assert outputs[0]["tokens"] == outputs[1]["tokens"]
    assert len(outputs[0]["tokens"]) == 1
    # The grant survives: the stored refresh token is the live one and works.
    async with read_transaction(acc_sessions) as s:
        stored = secrets.oauth(await get_connection_unscoped(s, cid))
    assert stored.refresh_token == next(iter(fake.grants.values())).refresh
    fresh = await oauth.refresh(stored.refresh_token)
    assert fresh.access_token


async def test_jira_client_refreshes_once_after_a_401(
    acc_sessions: Sessions,
    secrets_: ConnectionSecrets,
    oauth: AtlassianOAuth,
    fake: FakeAtlassian,
    clock: Clock,
) -> None:
    from jirabridge.service.connection_clients import JiraClientFactory

    cid = await seed_connection(acc_sessions, secrets_, oauth, fake)
    manager = OAuthTokenManager(acc_sessions, secrets_, oauth.refresh, clock=clock)
    first = await manager.ensure_valid_token(cid)
    seen: list[str] = []

    def gateway(request: httpx.Request) -> httpx.Response:
        bearer = request.headers["authorization"].removeprefix("Bearer ")
        seen.append(bearer)
        if bearer == first.token:  # Jira no longer accepts the first token (revoked early)
            return httpx.Response(401, json={"message": "Unauthorized"})
        return httpx.Response(200, json={"accountId": "557058:abc", "displayName": "Ada"})

    factory = JiraClientFactory(
        secrets_,
        manager,
        oauth_api_base="http://gateway.test",
        transport=httpx.MockTransport(gateway),
        clock=clock,
    )
    async with read_transaction(acc_sessions) as s:
        row = await get_connection_unscoped(s, cid)
    client = await factory.for_connection(row)
    async with client:
        me = await client.myself()
    assert me.display_name == "Ada"
    assert fake.refresh_count == 1
    assert seen[0] == first.token
    assert seen[-1] != first.token
    assert manager.refresh_count == 1
