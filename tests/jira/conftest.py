"""Fixtures for the Jira client tests (helpers live in tests/support/jira_fakes.py).

Every client runs on the real HTTP core with a fake clock, so retries, pacing and reconcile
polls take no wall time.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from jirabridge.http import BasicAuth, FakeClock
from jirabridge.jira import DeploymentType, JiraClient

from support.jira_fakes import FakeJira, NoSleep
from support.jira_spec_validation import HOST


@pytest.fixture
def fake() -> FakeJira:
    return FakeJira()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def cloud(fake: FakeJira, clock: FakeClock) -> AsyncIterator[JiraClient]:
    client = JiraClient(
        HOST,
        auth=BasicAuth("me@example.com", "tok"),
        deployment=DeploymentType.CLOUD,
        transport=httpx.MockTransport(fake),
        clock=clock,
    )
    yield client
    await client.aclose()


@pytest.fixture
async def dc(fake: FakeJira, clock: FakeClock) -> AsyncIterator[JiraClient]:
    client = JiraClient(
        HOST,
        auth=BasicAuth("admin", "pw"),
        deployment=DeploymentType.DATA_CENTER,
        transport=httpx.MockTransport(fake),
        clock=clock,
    )
    yield client
    await client.aclose()


@pytest.fixture
def no_sleep() -> NoSleep:
    return NoSleep()


@pytest.fixture
async def reconciling(
    fake: FakeJira, clock: FakeClock, no_sleep: NoSleep
) -> AsyncIterator[JiraClient]:
    """A Cloud client whose reconcile polls are recorded by ``no_sleep``."""
    client = JiraClient(
        HOST,
        auth=BasicAuth("me@example.com", "tok"),
        deployment=DeploymentType.CLOUD,
        transport=httpx.MockTransport(fake),
        clock=clock,
        sleep=no_sleep,
    )
    yield client
    await client.aclose()
