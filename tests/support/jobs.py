"""A launched job engine for tests: fast polling, quiet logs, shut down on exit."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from jirabridge.jobs.engine import JobEngine, JobsConfig

__all__ = ["launched_jobs"]


@asynccontextmanager
async def launched_jobs(system_database_url: str, name: str) -> AsyncIterator[JobEngine]:
    """A :class:`JobEngine` on ``system_database_url`` whose version and executor are ``name``."""
    engine = JobEngine(
        JobsConfig(
            system_database_url=system_database_url,
            application_version=name,
            executor_id=name,
            polling_interval_sec=0.05,
            log_level="WARNING",
        )
    )
    await engine.launch()
    try:
        yield engine
    finally:
        await engine.shutdown()
