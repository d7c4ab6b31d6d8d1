"""Fixtures for the job engine tests: a launched engine, destroyed cleanly afterwards."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest

from jirabridge.jobs.engine import JobEngine, JobsConfig

#: Short polls keep queued work and result waits quick in tests.
TEST_POLLING_SEC = 0.05


def make_config(url: str, *, executor_id: str = "test-executor") -> JobsConfig:
    """A test configuration on the system database ``url``."""
    return JobsConfig(
        system_database_url=url,
        application_version="test-1",
        executor_id=executor_id,
        polling_interval_sec=TEST_POLLING_SEC,
        log_level="WARNING",
    )


@pytest.fixture
async def job_engine(jobs_database_url: str) -> AsyncIterator[JobEngine]:
    """A launched engine on a fresh system database of each backend."""
    engine = JobEngine(make_config(jobs_database_url))
    await engine.launch()
    try:
        yield engine
    finally:
        await engine.shutdown()


@pytest.fixture
def config_for() -> Callable[[str], JobsConfig]:
    """Builds a test configuration for a URL."""
    return make_config
