"""Fixtures for the Jira client tests (helpers live in jira_fakes.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from jirabridge.jira import DeploymentType, JiraClient

from support.jira_fakes import FakeJira, NoSleep, ReconcilingHttp
from support.jira_spec_validation import HOST


@pytest.fixture
def fake() -> FakeJira:
    return FakeJira()


@pytest.fixture
async def cloud(fake: FakeJira) -> AsyncIterator[JiraClient]:
    client = JiraClient(
        HOST,
        auth=httpx.BasicAuth("me@example.com", "tok"),
        deployment=DeploymentType.CLOUD,
        transport=httpx.MockTransport(fake),
    )
    yield client
    await client.aclose()


@pytest.fixture
async def dc(fake: FakeJira) -> AsyncIterator[JiraClient]:
    client = JiraClient(
        HOST,
        auth=httpx.BasicAuth("admin", "pw"),
        deployment=DeploymentType.DATA_CENTER,
        transport=httpx.MockTransport(fake),
    )
    yield client
    await client.aclose()


@pytest.fixture
def no_sleep() -> NoSleep:
    return NoSleep()


@pytest.fixture
async def reconciling(fake: FakeJira, no_sleep: NoSleep) -> AsyncIterator[JiraClient]:
    http = ReconcilingHttp(
        HOST, auth=httpx.BasicAuth("me@example.com", "tok"), transport=httpx.MockTransport(fake)
    )
    client = JiraClient(HOST, http=http, deployment=DeploymentType.CLOUD, sleep=no_sleep)
    yield client
    await client.aclose()
