import asyncio
import base64
from datetime import UTC, datetime

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from jirabridge.errors import AuthenticationError, ConfigError, ReauthorizationRequired
from jirabridge.http import HttpClient
from jirabridge.http.auth import BasicAuth, BearerAuth, GitHubAppAuth, OAuth2Auth, OAuth2Token
from jirabridge.http.clock import FakeClock

SECRET = "s3cr3t-t0ken-value"


def echo(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json={"auth": request.headers.get("Authorization")})


async def test_basic_auth_sends_email_and_token_and_hides_the_token() -> None:
    auth = BasicAuth("me@example.com", SECRET)
    async with httpx.AsyncClient(transport=httpx.MockTransport(echo), auth=auth) as client:
        sent = (await client.get("https://x.test/")).json()["auth"]
    assert base64.b64decode(sent.removeprefix("Basic ")).decode() == f"me@example.com:{SECRET}"
    assert SECRET not in repr(auth)
    assert SECRET not in str(auth)


async def test_bearer_auth() -> None:
    auth = BearerAuth(SECRET)
    async with httpx.AsyncClient(transport=httpx.MockTransport(echo), auth=auth) as client:
        assert (await client.get("https://x.test/")).json()["auth"] == f"Bearer {SECRET}"
    assert SECRET not in repr(auth)


def test_missing_credentials_are_a_config_error() -> None:
    with pytest.raises(ConfigError, match="API token"):
        BasicAuth("me@example.com", "")
    with pytest.raises(ConfigError):
        BearerAuth("  ")


class TokenServer:
    """A fake API that only accepts the newest access token, and a refresh hook that issues
    tokens one after another."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.valid = "access-0"
        self.issued = 0
        self.refresh_calls = 0
        self.seen: list[str] = []

    async def refresh(self, stale: OAuth2Token) -> OAuth2Token:
        self.refresh_calls += 1
        await asyncio.sleep(0)  # let the other requests pile up behind the single flight
        self.issued += 1
        self.valid = f"access-{self.issued}"
        return OAuth2Token(self.valid, self.clock.time() + 3600)

    def handler(self, request: httpx.Request) -> httpx.Response:
        token = request.headers["Authorization"].removeprefix("Bearer ")
        self.seen.append(token)
        if token != self.valid:
            return httpx.Response(401, json={"message": "expired"})
        return httpx.Response(200, json={"ok": True})


def oauth_client(
    server: TokenServer, clock: FakeClock, expires_in: float
) -> tuple[HttpClient, OAuth2Auth]:
    auth = OAuth2Auth(
        OAuth2Token("access-0", clock.time() + expires_in), server.refresh, clock=clock
    )
    client = HttpClient(
        "https://api.atlassian.com/ex/jira/cloud-1",
        auth=auth,
        transport=httpx.MockTransport(server.handler),
        clock=clock,
    )
    return client, auth


async def test_token_is_refreshed_ahead_of_expiry(clock: FakeClock) -> None:
    server = TokenServer(clock)
    server.valid = "access-1"  # the server already considers access-0 too old
    server.issued = 0
    client, auth = oauth_client(server, clock, expires_in=200)  # < 5 min left
    async with client:
        await client.request("GET", "/rest/api/3/myself")
    assert server.refresh_calls == 1
    assert server.seen == ["access-1"]
    assert auth.token.access_token == "access-1"


async def test_token_far_from_expiry_is_not_refreshed(clock: FakeClock) -> None:
    server = TokenServer(clock)
    client, _ = oauth_client(server, clock, expires_in=3000)
    async with client:
        await client.request("GET", "/rest/api/3/myself")
    assert server.refresh_calls == 0


async def test_hundred_concurrent_requests_at_expiry_refresh_exactly_once(
    clock: FakeClock,
) -> None:
    server = TokenServer(clock)
    server.valid = "access-1"
    client, auth = oauth_client(server, clock, expires_in=10)
    async with client:
        responses = await asyncio.gather(
            *(client.request("GET", f"/rest/api/3/issue/P-{n}") for n in range(100))
        )
    assert all(r.status_code == 200 for r in responses)
    assert server.refresh_calls == 1
    assert auth.refresh_count == 1
    assert set(server.seen) == {"access-1"}


async def test_401_refreshes_once_and_repeats_the_request_once(clock: FakeClock) -> None:
    server = TokenServer(clock)
    server.valid = "revoked-early"
    server.issued = 0
    client, auth = oauth_client(server, clock, expires_in=3000)

    async def refresh(stale: OAuth2Token) -> OAuth2Token:
        server.refresh_calls += 1
        server.valid = "access-new"
        return OAuth2Token("access-new", clock.time() + 3600)

    auth._refresh_hook = refresh
    async with client:
        response = await client.request("GET", "/rest/api/3/myself")
    assert response.status_code == 200
    assert server.seen == ["access-0", "access-new"]
    assert server.refresh_calls == 1


async def test_a_second_401_is_an_authentication_error_without_a_loop(clock: FakeClock) -> None:
    server = TokenServer(clock)
    client, auth = oauth_client(server, clock, expires_in=3000)

    async def useless_refresh(stale: OAuth2Token) -> OAuth2Token:
        server.refresh_calls += 1
        server.valid = "the server accepts nothing we have"
        return OAuth2Token("access-x", clock.time() + 3600)

    auth._refresh_hook = useless_refresh
    server.valid = "nothing-works"
    async with client:
        with pytest.raises(AuthenticationError) as caught:
            await client.request("GET", "/rest/api/3/myself")
    assert server.refresh_calls == 1
    assert len(server.seen) == 2
    assert caught.value.status == 401


async def test_grant_gone_propagates_from_the_hook(clock: FakeClock) -> None:
    async def refresh(stale: OAuth2Token) -> OAuth2Token:
        raise ReauthorizationRequired("grant revoked", status=400)

    auth = OAuth2Auth(OAuth2Token("a", clock.time()), refresh, clock=clock)
    client = HttpClient(
        "https://x.test", auth=auth, transport=httpx.MockTransport(echo), clock=clock
    )
    async with client:
        with pytest.raises(ReauthorizationRequired):
            await client.request("GET", "/")


def test_oauth_reprs_hide_tokens() -> None:
    token = OAuth2Token(SECRET, 123.0)

    async def refresh(stale: OAuth2Token) -> OAuth2Token:
        return stale

    assert SECRET not in repr(token)
    assert SECRET not in repr(OAuth2Auth(token, refresh))


@pytest.fixture(scope="module")
def private_key() -> tuple[str, rsa.RSAPublicKey]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return pem, key.public_key()


class GitHub:
    def __init__(self, clock: FakeClock, public_key: rsa.RSAPublicKey) -> None:
        self.clock = clock
        self.public_key = public_key
        self.minted = 0
        self.api_calls: list[str] = []

    def handler(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/app/installations/42/access_tokens":
            assert request.method == "POST"
            claims = jwt.decode(
                request.headers["Authorization"].removeprefix("Bearer "),
                self.public_key,
                algorithms=["RS256"],
                options={"verify_exp": False, "verify_iat": False},
            )
            assert claims["iss"] == "1234"
            assert claims["exp"] - claims["iat"] <= 600
            self.minted += 1
            expires = datetime.fromtimestamp(self.clock.time() + 3600, tz=UTC)
            return httpx.Response(
                201,
                json={
                    "token": f"ghs_{self.minted}",
                    "expires_at": expires.isoformat().replace("+00:00", "Z"),
                },
            )
        self.api_calls.append(request.headers["Authorization"])
        return httpx.Response(200, json=[])


async def test_github_app_token_is_cached_and_renewed_early(
    clock: FakeClock, private_key: tuple[str, rsa.RSAPublicKey]
) -> None:
    pem, public = private_key
    github = GitHub(clock, public)
    auth = GitHubAppAuth(1234, pem, 42, clock=clock)
    client = HttpClient(
        "https://api.github.com",
        auth=auth,
        transport=httpx.MockTransport(github.handler),
        clock=clock,
    )
    async with client:
        await asyncio.gather(*(client.request("GET", "/repos/o/r/issues") for _ in range(10)))
        assert github.minted == 1
        clock.advance(3600 - 61)
        await client.request("GET", "/repos/o/r/issues")
        assert github.minted == 1
        clock.advance(2)  # inside the last minute: treated as expired
        await client.request("GET", "/repos/o/r/issues")
    assert github.minted == 2
    assert github.api_calls[:10] == ["Bearer ghs_1"] * 10
    assert github.api_calls[-1] == "Bearer ghs_2"
    assert pem not in repr(auth)


async def test_github_app_token_refusal_is_an_authentication_error(
    clock: FakeClock, private_key: tuple[str, rsa.RSAPublicKey]
) -> None:
    auth = GitHubAppAuth(1234, private_key[0], 42, clock=clock)

    def refuse(request: httpx.Request) -> httpx.Response:
        return httpx.Response(401, json={"message": "bad credentials"})

    client = HttpClient(
        "https://api.github.com", auth=auth, transport=httpx.MockTransport(refuse), clock=clock
    )
    async with client:
        with pytest.raises(AuthenticationError) as caught:
            await client.request("GET", "/user")
    assert private_key[0] not in str(caught.value)


def test_github_app_bad_key_is_a_config_error_without_the_key() -> None:
    auth = GitHubAppAuth(1, "-----BEGIN NOT A KEY-----", 2)
    with pytest.raises(ConfigError) as caught:
        auth.app_jwt()
    assert "NOT A KEY" not in str(caught.value)


def test_github_app_without_cryptography_is_a_clear_config_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "cryptography" else real(name, *a),
    )
    with pytest.raises(ConfigError, match="github-app"):
        GitHubAppAuth(1, "key", 2)
