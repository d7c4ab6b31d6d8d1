"""The whole OAuth 3LO dance against the simulator: one site, several sites (selection),
access denied, bad/replayed/foreign state, reconnect, disconnect, and API calls through the
gateway with a refresh at expiry."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.applications import Starlette

from jirabridge.errors import NotFoundError, ReauthorizationRequired, ValidationError
from jirabridge.service.atlassian_oauth import AtlassianOAuth, OAuthAppConfig
from jirabridge.service.connection_clients import JiraClientFactory
from jirabridge.service.connections import ConnectionService
from jirabridge.service.oauth_flow import OAuthAccessDenied, OAuthFlow
from jirabridge.service.oauth_state import OAuthStateError, OAuthStateSigner
from jirabridge.service.oauth_tokens import OAuthTokenManager
from jirabridge.sim.app import SimConfig, SimRuntime, create_sim_app
from jirabridge.sim.edges import default_oauth_client
from jirabridge.store.account_models import UserRow
from jirabridge.store.accounts import UserRepository, get_connection_unscoped
from jirabridge.store.connection_secrets import ConnectionSecrets
from jirabridge.store.db import read_transaction, write_transaction
from jirabridge.store.secrets import SecretBox, generate_key

Sessions = async_sessionmaker[AsyncSession]
SIM = "http://sim.test"
SECRET = "state-signing-secret-for-tests"
KEY = generate_key()


class Clock:
    def __init__(self, runtime: SimRuntime) -> None:
        self.runtime = runtime

    def __call__(self) -> datetime:
        return datetime.fromtimestamp(self.runtime.clock.time(), UTC)


class Harness:
    def __init__(self, sessions: Sessions) -> None:
        self.sim: Starlette = create_sim_app(
            SimConfig(base_url=SIM, frozen_at=datetime(2026, 11, 22, tzinfo=UTC).timestamp())
        )
        self.runtime: SimRuntime = self.sim.state.sim
        self.clock = Clock(self.runtime)
        self.transport = httpx.ASGITransport(app=self.sim)
        client = default_oauth_client(self.runtime.config.seed)
        self.oauth = AtlassianOAuth(
            OAuthAppConfig(
                client_id=client.client_id,
                client_secret=client.client_secret,
                redirect_uri="http://jirabridge.test/connections/oauth/callback",
                authorize_url=f"{SIM}/authorize",
                token_url=f"{SIM}/oauth/token",
                api_base=SIM,
            ),
            transport=self.transport,
            clock=self.clock,
        )
        self.secrets = ConnectionSecrets(SecretBox([KEY]))
        self.signer = OAuthStateSigner(SECRET, clock=self.clock)
        self.flow = OAuthFlow(sessions, self.secrets, self.oauth, self.signer, clock=self.clock)
        self.tokens = OAuthTokenManager(
            sessions, self.secrets, self.oauth.refresh, clock=self.clock
        )
        self.clients = JiraClientFactory(
            self.secrets,
            self.tokens,
            oauth_api_base=SIM,
            transport=self.transport,
            clock=self.clock,
        )
        self.connections = ConnectionService(sessions, self.secrets, self.clients, clock=self.clock)

    async def consent(self, url: str, **extra: str) -> dict[str, str]:
        """Follow the authorization URL as the browser would; the callback's parameters."""
        async with httpx.AsyncClient(transport=self.transport, base_url=SIM) as browser:
            response = await browser.get(f"{url}&{urlencode(extra)}")
        assert response.status_code in (302, 303, 307), response.text
        location = response.headers["location"]
        return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}

    def cloud_ids(self) -> list[str]:
        assert self.runtime.edges is not None
        return [s.cloud_id for s in self.runtime.edges.oauth.config.sites]


@pytest.fixture
def h(acc_sessions: Sessions) -> Harness:
    return Harness(acc_sessions)


async def make_user(sessions: Sessions, email: str) -> UserRow:
    async with write_transaction(sessions) as s:
        return await UserRepository(s).create(email=email, password_hash=None)


async def test_one_site_connects_directly_and_works(h: Harness, acc_sessions: Sessions) -> None:
    user = await make_user(acc_sessions, "a@x.io")
    url = await h.flow.start(user, "browser-session-1")
    first = h.cloud_ids()[0]
    params = await h.consent(url, sites=first)
    result = await h.flow.callback(
        user, "browser-session-1", state=params["state"], code=params["code"]
    )
    assert result.connection is not None
    assert result.connection.cloud_id == first
    assert result.connection.kind == "oauth"
    outcome = await h.connections.test(user.id, result.connection.id)
    assert outcome.ok, outcome.message
    # The state was single-use.
    with pytest.raises(OAuthStateError, match="already used"):
        await h.flow.callback(user, "browser-session-1", state=params["state"], code="x")


async def test_several_sites_need_a_choice(h: Harness, acc_sessions: Sessions) -> None:
    user = await make_user(acc_sessions, "a@x.io")
    url = await h.flow.start(user, "s1")
    params = await h.consent(url, consent="auto")
    result = await h.flow.callback(user, "s1", state=params["state"], code=params["code"])
    assert result.connection is None
    assert result.pending_grant_id is not None
    assert {s.id for s in result.sites} == set(h.cloud_ids())
    assert len(result.sites) == 2
    other = await make_user(acc_sessions, "b@x.io")
    with pytest.raises(NotFoundError):
        await h.flow.choose_site(other, result.pending_grant_id, h.cloud_ids()[1])
    with pytest.raises(ValidationError, match="one of the sites"):
        await h.flow.choose_site(user, result.pending_grant_id, "not-offered")
    chosen = h.cloud_ids()[1]
    row = await h.flow.choose_site(user, result.pending_grant_id, chosen)
    assert row.cloud_id == chosen
    assert (await h.connections.test(user.id, row.id)).ok
    with pytest.raises(NotFoundError):
        await h.flow.choose_site(user, result.pending_grant_id, chosen)


async def test_access_denied_and_bad_states(h: Harness, acc_sessions: Sessions) -> None:
    user = await make_user(acc_sessions, "a@x.io")
    mallory = await make_user(acc_sessions, "m@x.io")
    url = await h.flow.start(user, "s1")
    denied = await h.consent(url, consent="deny")
    assert denied["error"] == "access_denied"
    with pytest.raises(OAuthAccessDenied, match="declined"):
        await h.flow.callback(user, "s1", state=denied["state"], code=None, error="access_denied")
    assert await h.connections.list(user.id) == []

    url = await h.flow.start(user, "s1")
    params = await h.consent(url, consent="auto")
    with pytest.raises(OAuthStateError, match="another browser session"):
        await h.flow.callback(user, "s2", state=params["state"], code=params["code"])
    with pytest.raises(OAuthStateError, match="another user"):
        await h.flow.callback(mallory, "s1", state=params["state"], code=params["code"])
    with pytest.raises(OAuthStateError, match="not one we issued"):
        await h.flow.callback(user, "s1", state=params["state"] + "x", code=params["code"])
    with pytest.raises(OAuthStateError):
        await h.flow.callback(user, "s1", state=None, code=params["code"])
    # Ten minutes later the state is dead.
    h.runtime.clock.advance(601)
    with pytest.raises(OAuthStateError, match="expired"):
        await h.flow.callback(user, "s1", state=params["state"], code=params["code"])


async def test_refresh_at_expiry_reconnect_and_disconnect(
    h: Harness, acc_sessions: Sessions
) -> None:
    user = await make_user(acc_sessions, "a@x.io")
    url = await h.flow.start(user, "s1")
    params = await h.consent(url, sites=h.cloud_ids()[0])
    row = (await h.flow.callback(user, "s1", state=params["state"], code=params["code"])).connection
    assert row is not None
    h.runtime.clock.advance(3600 - 120)  # two minutes left: refresh before use
    client = await h.clients.for_connection(row)
    async with client:
        assert (await client.myself()).display_name
    assert h.tokens.refresh_count == 1
    async with read_transaction(acc_sessions) as s:
        assert (await get_connection_unscoped(s, row.id)).token_version == 2

    await h.connections.disconnect(user.id, row.id)
    async with read_transaction(acc_sessions) as s:
        gone = await get_connection_unscoped(s, row.id)
    assert gone.oauth_refresh_ciphertext is None
    assert gone.oauth_access_ciphertext is None
    assert gone.needs_reconnect
    with pytest.raises(ReauthorizationRequired, match="connected again"):
        await h.tokens.ensure_valid_token(row.id)

    # Connecting again to the same site revives the same connection.
    url = await h.flow.start(user, "s1")
    params = await h.consent(url, sites=h.cloud_ids()[0])
    again = (
        await h.flow.callback(user, "s1", state=params["state"], code=params["code"])
    ).connection
    assert again is not None
    assert again.id == row.id
    assert not again.needs_reconnect
    assert (await h.connections.test(user.id, row.id)).ok
    assert len(await h.connections.list(user.id)) == 1
