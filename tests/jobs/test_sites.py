"""The site key: one key per Jira site, whichever connection or spelling of its URL."""

from __future__ import annotations

import pytest

from jirabridge.errors import ValidationError
from jirabridge.jobs.sites import site_key


def test_spellings_of_one_site_share_a_key() -> None:
    keys = {
        site_key("https://Acme.atlassian.net"),
        site_key("https://acme.atlassian.net/"),
        site_key("https://acme.atlassian.net:443"),
        site_key(" https://acme.atlassian.net "),
    }
    assert keys == {"https://acme.atlassian.net"}


def test_other_sites_ports_and_context_paths_differ() -> None:
    assert site_key("https://acme.atlassian.net") != site_key("https://other.atlassian.net")
    assert site_key("http://127.0.0.1:8080") == "http://127.0.0.1:8080"
    assert site_key("https://jira.corp/jira/") == "https://jira.corp/jira"
    assert site_key("https://jira.corp/jira") != site_key("https://jira.corp")


def test_a_cloud_id_names_the_site() -> None:
    via_oauth = site_key("https://api.atlassian.com/ex/jira/ABC-1", "ABC-1")
    assert via_oauth == "cloud:abc-1"
    assert site_key("https://anything", "abc-1") == via_oauth


def test_a_url_without_a_host_is_refused() -> None:
    with pytest.raises(ValidationError, match="cannot tell the Jira site"):
        site_key("not a url")
