"""Construction: each auth, from_env with clear errors, secrets kept out of reprs."""

from __future__ import annotations

import base64

import httpx
import pytest

from jirabridge.errors import ConfigError, ValidationError
from jirabridge.jira import AuthKind, JiraClient, JiraSettings

from support.jira_fakes import FakeJira


def _auth_header(fake: FakeJira) -> str:
    return fake.last.headers["authorization"]


async def test_cloud_basic_auth_and_v3(fake: FakeJira) -> None:
    fake.on("GET", "/rest/api/3/myself", {"accountId": "a"})
    async with JiraClient.cloud(
        "https://acme.atlassian.net",
        email="me@acme.com",
        api_token="tok",
        transport=httpx.MockTransport(fake),
    ) as jira:
        await jira.myself()
    assert fake.last.path == "/rest/api/3/myself"
    assert _auth_header(fake) == "Basic " + base64.b64encode(b"me@acme.com:tok").decode()


async def test_dc_pat_bearer_and_v2(fake: FakeJira) -> None:
    fake.on("GET", "/rest/api/2/myself", {"name": "admin", "key": "admin"})
    async with JiraClient.datacenter_pat(
        "https://jira.corp", token="pat-123", transport=httpx.MockTransport(fake)
    ) as jira:
        me = await jira.myself()
    assert me.identity == "admin"
    assert _auth_header(fake) == "Bearer pat-123"
    assert fake.last.path == "/rest/api/2/myself"


async def test_dc_basic(fake: FakeJira) -> None:
    fake.on("GET", "/rest/api/2/myself", {"name": "admin"})
    async with JiraClient.datacenter_basic(
        "https://jira.corp", username="admin", password="pw", transport=httpx.MockTransport(fake)
    ) as jira:
        await jira.myself()
    assert _auth_header(fake) == "Basic " + base64.b64encode(b"admin:pw").decode()


async def test_oauth_uses_the_gateway_base(fake: FakeJira) -> None:
    fake.validate = False  # the spec's server is the site, not the gateway
    fake.on("GET", "/ex/jira/cloud-123/rest/api/3/myself", {"accountId": "a"})
    async with JiraClient.oauth(
        "cloud-123", auth="access-xyz", transport=httpx.MockTransport(fake)
    ) as jira:
        await jira.myself()
    assert fake.last.path == "/ex/jira/cloud-123/rest/api/3/myself"
    assert _auth_header(fake) == "Bearer access-xyz"
    with pytest.raises(ConfigError):
        JiraClient.oauth("a/b", auth="x")


def test_from_env_names_what_is_missing() -> None:
    with pytest.raises(ConfigError) as info:
        JiraSettings.from_env({})
    assert "JIRA_URL" in str(info.value)
    assert "JIRA_TOKEN" in str(info.value)
    assert "JIRA_EMAIL or JIRA_USERNAME" in str(info.value)
    with pytest.raises(ConfigError) as info:
        JiraSettings.from_env({"JIRA_URL": "https://x.atlassian.net", "JIRA_EMAIL": "a@b"})
    assert info.value.details["missing"] == [
        "JIRA_TOKEN (or JIRA_PAT for a Data Center personal access token)"
    ]


def test_from_env_reads_basic_pat_and_limits() -> None:
    basic = JiraSettings.from_env(
        {
            "JIRA_URL": "https://acme.atlassian.net/",
            "JIRA_USERNAME": "me@acme.com",
            "JIRA_TOKEN": "s3cret-token",
            "JIRA_RATE_LIMIT_RPS": "25",
            "JIRA_MAX_RETRIES": "4",
            "JIRA_TIMEOUT": "12.5",
        }
    )
    assert basic.auth_kind is AuthKind.BASIC
    assert basic.url == "https://acme.atlassian.net"
    assert (basic.rate_limit_rps, basic.max_retries, basic.timeout) == (25.0, 4, 12.5)
    assert "s3cret-token" not in repr(basic)
    pat = JiraSettings.from_env({"JIRA_URL": "https://jira.corp", "JIRA_PAT": "pat-secret"})
    assert pat.auth_kind is AuthKind.PAT
    assert "pat-secret" not in repr(pat)
    assert "pat-secret" not in repr(pat.auth())
    with pytest.raises(ConfigError, match="JIRA_RATE_LIMIT_RPS"):
        JiraSettings.from_env(
            {**{"JIRA_URL": "https://j", "JIRA_PAT": "p"}, "JIRA_RATE_LIMIT_RPS": "fast"}
        )
    with pytest.raises(ConfigError, match="http"):
        JiraSettings.from_env({"JIRA_URL": "jira.corp", "JIRA_PAT": "p"})


async def test_from_env_builds_a_working_client(fake: FakeJira) -> None:
    fake.on("GET", "/rest/api/2/myself", {"name": "admin"})
    env = {"JIRA_URL": "https://jira.test", "JIRA_PAT": "pat-1"}
    async with JiraClient.from_env(env, transport=httpx.MockTransport(fake)) as jira:
        assert (await jira.myself()).name == "admin"
    assert _auth_header(fake) == "Bearer pat-1"


def test_bad_construction_is_refused() -> None:
    with pytest.raises(ValidationError):
        JiraClient("ftp://jira")
    with pytest.raises(ValidationError):
        JiraClient.cloud("https://a.atlassian.net", email="", api_token="t")
    with pytest.raises(ValidationError):
        JiraClient("https://a", api_version=4)


@pytest.mark.parametrize(
    ("url", "cloud"),
    [
        ("https://acme.atlassian.net", True),
        ("https://api.atlassian.com/ex/jira/abc", True),
        ("https://jira.acme.com", False),
        ("https://atlassian.net.evil.test", False),
    ],
)
async def test_atlassian_hosts_need_no_probe(fake: FakeJira, url: str, cloud: bool) -> None:
    fake.validate = False
    fake.on("GET", ".*/serverInfo", {"deploymentType": "Server", "version": "9.12.0"})
    fake.on("GET", ".*/myself", {"accountId": "a"})
    async with JiraClient(
        url, auth=httpx.BasicAuth("u", "p"), transport=httpx.MockTransport(fake)
    ) as jira:
        await jira.myself()
        assert await jira.is_cloud() is cloud
    probed = any(s.path.endswith("/serverInfo") for s in fake.sent)
    assert probed is not cloud
