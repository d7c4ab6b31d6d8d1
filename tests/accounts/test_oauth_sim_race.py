"""ensure_valid_token against the simulator's authorization server on a real loopback port:
100 concurrent calls at expiry and two racing processes each produce exactly one refresh,
and the grant survives (the simulator counts refreshes and revocations in /_sim/oauth)."""

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
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from jirabridge.service.atlassian_oauth import AtlassianOAuth, OAuthAppConfig
from jirabridge.service.oauth_tokens import OAuthTokenManager
from jirabridge.sim.app import SimConfig, SimRuntime, create_sim_app
from jirabridge.sim.edges import default_oauth_client
from jirabridge.sim.server import serve_in_thread
from jirabridge.store.account_models import JiraConnectionRow, new_id
from jirabridge.store.accounts import UserRepository, get_connection_unscoped
from jirabridge.store.connection_secrets import ConnectionSecrets
from jirabridge.store.db import read_transaction, write_transaction
from jirabridge.store.secrets import SecretBox, generate_key

Sessions = async_sessionmaker[AsyncSession]
KEY = generate_key()


@pytest.fixture
def sim() -> Iterator[tuple[str, SimRuntime]]:
    app = create_sim_app(SimConfig())
    with serve_in_thread(app) as base:
        yield base, app.state.sim


def oauth_for(base: str, runtime: SimRuntime) -> AtlassianOAuth:
    client = default_oauth_client(runtime.config.seed)
    return AtlassianOAuth(
        OAuthAppConfig(
            client_id=client.client_id,
            client_secret=client.client_secret,
            redirect_uri="http://127.0.0.1/callback",
            authorize_url=f"{base}/authorize",
            token_url=f"{base}/oauth/token",
            api_base=base,
        )
    )


async def connect(sessions: Sessions, secrets: ConnectionSecrets, oauth: AtlassianOAuth) -> str:
    """The 3LO dance with consent=auto, then a connection row holding the tokens."""
    async with httpx.AsyncClient() as browser:
        r = await browser.get(oauth.authorization_url("s") + "&consent=auto")
    code = parse_qs(urlsplit(r.headers["location"]).query)["code"][0]
    tokens = await oauth.exchange_code(code)
    [site, *_] = await oauth.accessible_resources(tokens.access_token)
    async with write_transaction(sessions) as s:
        user = await UserRepository(s).create(email="a@x.io", password_hash=None)
        row = JiraConnectionRow(
            id=new_id(),
            owner_user_id=user.id,
            name=site.name,
            kind="oauth",
            base_url=site.url,
            cloud_id=site.id,
        )
        secrets.set_oauth(
            row,
            access_token=tokens.access_token,
            refresh_token=tokens.refresh_token,
            # Four minutes left: inside the five-minute margin, so the next use refreshes.
            expires_at=datetime.now(UTC) + timedelta(minutes=4),
        )
        s.add(row)
    return row.id


async def sim_grants(base: str) -> dict[str, object]:
    async with httpx.AsyncClient() as client:
        data: dict[str, object] = (await client.get(f"{base}/_sim/oauth")).json()
    return data


async def test_hundred_concurrent_calls_refresh_once_on_the_simulator(
    acc_sessions: Sessions, sim: tuple[str, SimRuntime]
) -> None:
    base, runtime = sim
    secrets = ConnectionSecrets(SecretBox([KEY]))
    oauth = oauth_for(base, runtime)
    cid = await connect(acc_sessions, secrets, oauth)
    manager = OAuthTokenManager(acc_sessions, secrets, oauth.refresh)
    results = await asyncio.gather(*(manager.ensure_valid_token(cid) for _ in range(100)))
    assert len({r.token for r in results}) == 1
    grants = await sim_grants(base)
    assert grants["refreshCount"] == 1
    assert not any(g["revoked"] for g in grants["grants"])  # type: ignore[attr-defined]


@pytest.mark.slow
async def test_two_processes_refresh_once_on_the_simulator(
    acc_db_url: str, acc_sessions: Sessions, sim: tuple[str, SimRuntime]
) -> None:
    base, runtime = sim
    secrets = ConnectionSecrets(SecretBox([KEY]))
    oauth = oauth_for(base, runtime)
    cid = await connect(acc_sessions, secrets, oauth)
    client = default_oauth_client(runtime.config.seed)
    env = {
        **os.environ,
        "JIRABRIDGE_ENCRYPTION_KEYS": KEY,
        "RACE_CLIENT_ID": client.client_id,
        "RACE_CLIENT_SECRET": client.client_secret,
    }
    env.pop("JIRABRIDGE_ENCRYPTION_KEY_FILE", None)
    worker = Path(__file__).with_name("race_worker.py")
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
        assert (await asyncio.to_thread(proc.stdout.readline)).strip() == "ready"
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()
    outputs = []
    for proc in procs:
        out, err = await asyncio.to_thread(proc.communicate, timeout=120)
        assert proc.returncode == 0, err
        outputs.append(json.loads(out.strip().splitlines()[-1]))
    assert outputs[0]["tokens"] == outputs[1]["tokens"]
    grants = await sim_grants(base)
    assert grants["refreshCount"] == 1
    # No lost grant: the stored refresh token still works.
    async with read_transaction(acc_sessions) as s:
        stored = secrets.oauth(await get_connection_unscoped(s, cid))
    assert (await oauth.refresh(stored.refresh_token)).access_token
    assert not any(g["revoked"] for g in (await sim_grants(base))["grants"])  # type: ignore[attr-defined]
