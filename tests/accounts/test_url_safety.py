"""Jira URL safety: https only, no private/loopback/link-local targets unless allowed."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from jirabridge.service.url_safety import UnsafeUrlError, check_jira_url


def resolver_for(mapping: dict[str, list[str]]):  # type: ignore[no-untyped-def]
    calls: list[tuple[str, int]] = []

    async def resolve(host: str, port: int) -> Sequence[str]:
        calls.append((host, port))
        if host not in mapping:
            raise OSError("no such host")
        return mapping[host]

    resolve.calls = calls  # type: ignore[attr-defined]
    return resolve


PUBLIC = resolver_for(
    {
        "acme.atlassian.net": ["104.192.141.1"],
        "jira.corp.example": ["10.1.2.3"],
        "mixed.example": ["104.192.141.1", "192.168.0.5"],
        "local.test": ["127.0.0.1"],
        "meta.example": ["169.254.169.254"],
        "v6local.example": ["::1"],
        "mapped.example": ["::ffff:10.0.0.1"],
        "cgnat.example": ["100.64.1.1"],
    }
)


async def test_public_https_accepted_and_normalised() -> None:
    url = await check_jira_url("https://ACME.atlassian.net/", resolver=PUBLIC)
    assert url == "https://acme.atlassian.net"
    assert ("acme.atlassian.net", 443) in PUBLIC.calls  # type: ignore[attr-defined]


async def test_context_path_and_port_kept() -> None:
    url = await check_jira_url("https://acme.atlassian.net:8443/jira/", resolver=PUBLIC)
    assert url == "https://acme.atlassian.net:8443/jira"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://acme.atlassian.net", "https"),
        ("ftp://acme.atlassian.net", "must look like"),
        ("acme.atlassian.net", "must look like"),
        ("https://user:pw@acme.atlassian.net", "user name"),
        ("https://acme.atlassian.net/?a=1", "query"),
        ("https://acme.atlassian.net/#x", "query"),
        ("https://jira.corp.example", "private address"),
        ("https://mixed.example", "private address"),
        ("https://local.test", "loopback"),
        ("https://meta.example", "link-local"),
        ("https://v6local.example", "loopback"),
        ("https://mapped.example", "private"),
        ("https://cgnat.example", "address"),
        ("https://127.0.0.1:8080", "loopback"),
        ("https://[::1]/", "loopback"),
        ("https://0.0.0.0", "address"),
        ("https://nowhere.example", "cannot be resolved"),
        ("https://acme.atlassian.net:99999", "not a valid URL"),
    ],
)
async def test_refused(url: str, message: str) -> None:
    with pytest.raises(UnsafeUrlError, match=message):
        await check_jira_url(url, resolver=PUBLIC)


async def test_private_allowed_by_setting_including_plain_http_on_loopback() -> None:
    assert (
        await check_jira_url("http://127.0.0.1:9000", allow_private=True, resolver=PUBLIC)
        == "http://127.0.0.1:9000"
    )
    assert (
        await check_jira_url("https://jira.corp.example", allow_private=True, resolver=PUBLIC)
        == "https://jira.corp.example"
    )


async def test_http_to_public_host_refused_even_when_private_allowed() -> None:
    with pytest.raises(UnsafeUrlError, match="https"):
        await check_jira_url("http://acme.atlassian.net", allow_private=True, resolver=PUBLIC)
    with pytest.raises(UnsafeUrlError, match="https"):
        await check_jira_url("http://mixed.example", allow_private=True, resolver=PUBLIC)


async def test_empty_resolution_refused() -> None:
    async def empty(host: str, port: int) -> Sequence[str]:
        return []

    with pytest.raises(UnsafeUrlError, match="cannot be resolved"):
        await check_jira_url("https://acme.atlassian.net", resolver=empty)
