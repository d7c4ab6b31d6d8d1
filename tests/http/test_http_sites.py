"""site_key: one name per site, whatever the spelling of its URL."""

from __future__ import annotations

import pytest

from jirabridge.errors import ValidationError
from jirabridge.http import HttpClient, site_key


@pytest.mark.parametrize(
    "url",
    [
        "https://acme.atlassian.net",
        "https://acme.atlassian.net/",
        "HTTPS://ACME.Atlassian.net:443//",
        "http://acme.atlassian.net:80",
        "https://user@acme.atlassian.net/?x=1#top",
        "acme.atlassian.net",
    ],
)
def test_spellings_of_one_site_share_a_key(url: str) -> None:
    assert site_key(url) == "acme.atlassian.net"


def test_ports_paths_and_hosts_that_differ_stay_apart() -> None:
    keys = {
        site_key("https://acme.atlassian.net"),
        site_key("https://acme.atlassian.net:8443"),
        site_key("https://jira.example.com/jira"),
        site_key("https://jira.example.com/other"),
        site_key("https://beta.atlassian.net"),
    }
    assert len(keys) == 5
    assert site_key("http://127.0.0.1:9999/") == "127.0.0.1:9999"
    assert site_key("https://jira.example.com/Jira/") == "jira.example.com/Jira"
    assert site_key("https://[::1]:8080") == "[::1]:8080"


def test_cloud_ids_and_the_oauth_gateway() -> None:
    gateway = "api.atlassian.com/ex/jira/abc-123"
    assert site_key(None, cloud_id="abc-123") == gateway
    assert site_key("https://api.atlassian.com/ex/jira/abc-123/") == gateway
    # An OAuth connection keeps its site URL: it meets token connections to that site.
    assert site_key("https://acme.atlassian.net", cloud_id="abc-123") == "acme.atlassian.net"


@pytest.mark.parametrize("url", ["", "   ", "https://", "http://host:notaport"])
def test_nothing_that_names_a_site_is_refused(url: str) -> None:
    with pytest.raises(ValidationError):
        site_key(url)
    with pytest.raises(ValidationError):
        site_key(None, cloud_id="a/b")


async def test_the_http_client_keys_its_governor_and_breaker_by_site() -> None:
    client = HttpClient("https://Jira.Example.com:443/")
    try:
        assert client.site == client.governor.site == client.breaker.site == "jira.example.com"
    finally:
        await client.aclose()
