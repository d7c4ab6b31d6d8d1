"""Housekeeping in one process: retention limits, heartbeats and recovery rules, governor wiring."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import cast

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from jirabridge.errors import ConfigError, StorageError
from jirabridge.http.governor_store import MemoryGovernorStore
from jirabridge.jobs import registry
from jirabridge.jobs.engine import JobEngine, JobsConfig
from jirabridge.jobs.recovery import ExecutorHeartbeats, RecoveryConfig
from jirabridge.service.governor_state import governor_store_kind, open_governor_store
from jirabridge.service.maintenance import (
    MaintenanceConfig,
    prune_expired_rows,
    prune_workflows,
    recover_stopped_executors,
    run_maintenance,
)
from jirabridge.service.settings import load_settings
from jirabridge.store import db
from jirabridge.store.account_models import OAuthStateRow, UserRow, UserSessionRow

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


@registry.workflow("scaleout.maintenance-noop")
async def noop(value: int) -> int:
    return value


@pytest.fixture
async def jobs(jobs_database_url: str) -> AsyncIterator[JobEngine]:
    engine = JobEngine(
        JobsConfig(
            system_database_url=jobs_database_url,
            application_version="maint-test-1",
            executor_id="me",
            polling_interval_sec=0.05,
            log_level="WARNING",
        )
    )
    await engine.launch()
    yield engine
    await engine.shutdown()


async def test_prune_workflows_deletes_finished_ones_in_batches_and_keeps_newer(
    jobs: JobEngine,
) -> None:
    for number in range(5):
        assert await (await jobs.start(f"maint:{number}", noop, number)).result() == number

    assert await prune_workflows(jobs, datetime.now(UTC) - timedelta(days=1), batch=2) == 0
    assert await prune_workflows(jobs, datetime.now(UTC) + timedelta(seconds=5), batch=2) == 5
    assert await jobs.status("maint:0") is None
    assert await prune_workflows(jobs, datetime.now(UTC) + timedelta(seconds=5), batch=2) == 0


async def test_prune_expired_rows_removes_only_expired_sessions_and_states(
    engine: AsyncEngine,
) -> None:
    sessions: async_sessionmaker[AsyncSession] = db.session_factory(engine)
    async with db.write_transaction(sessions) as session:
        user = UserRow(email="a@example.com")
        session.add(user)
        await session.flush()
        session.add_all(
            [
                UserSessionRow(id="old", user_id=user.id, expires_at=NOW - timedelta(hours=1)),
                UserSessionRow(id="live", user_id=user.id, expires_at=NOW + timedelta(hours=1)),
                OAuthStateRow(
                    nonce="n-old",
                    user_id=user.id,
                    session_fingerprint="f",
                    expires_at=NOW - timedelta(minutes=1),
                ),
                OAuthStateRow(
                    nonce="n-live",
                    user_id=user.id,
                    session_fingerprint="f",
                    expires_at=NOW + timedelta(minutes=9),
                ),
            ]
        )

    report = await prune_expired_rows(sessions, NOW)

    assert (report.sessions, report.oauth_states, report.pending_grants) == (1, 1, 0)
    assert report.total == 2
    async with sessions() as session:
        left = await session.scalars(select(UserSessionRow.id))
        assert list(left) == ["live"]
        assert await session.scalar(select(func.count()).select_from(OAuthStateRow)) == 1
    assert (await prune_expired_rows(sessions, NOW)).total == 0


async def test_stale_heartbeats_are_found_by_age(jobs_database_url: str) -> None:
    clock = [1000.0]
    heartbeats = ExecutorHeartbeats(
        JobsConfig(
            system_database_url=jobs_database_url, application_version="x", executor_id="x"
        ).system_database_url,
        clock=lambda: clock[0],
    )
    try:
        await heartbeats.beat("w1")
        await heartbeats.beat("w2")
        clock[0] += 30
        await heartbeats.beat("w2")
        assert await heartbeats.stale(20) == ["w1"]
        clock[0] += 30
        assert await heartbeats.stale(20) == ["w1", "w2"]
        await heartbeats.forget("w1")
        assert await heartbeats.stale(20) == ["w2"]
    finally:
        heartbeats.close()


async def test_recovery_skips_own_executor_and_forgets_the_stopped_one(
    jobs: JobEngine,
) -> None:
    clock = [0.0]
    heartbeats = ExecutorHeartbeats(jobs.config.system_database_url, clock=lambda: clock[0])
    try:
        await heartbeats.beat("me")
        await heartbeats.beat("gone")
        clock[0] += 100
        recovered = await recover_stopped_executors(
            jobs, heartbeats, RecoveryConfig(heartbeat_interval_sec=1, stale_after_sec=10)
        )
        assert recovered == []  # "gone" had no pending workflows
        assert await heartbeats.stale(10) == ["me"]  # own row kept, stopped one forgotten
        assert await jobs.recover_executors(["me"]) == []
    finally:
        heartbeats.close()


def test_recovery_config_refuses_a_stale_limit_shorter_than_three_beats() -> None:
    with pytest.raises(ConfigError, match="three heartbeat"):
        RecoveryConfig(heartbeat_interval_sec=10, stale_after_sec=20)


def test_maintenance_config_reads_settings() -> None:
    settings = load_settings(
        retention_workflow_days=7, heartbeat_interval_sec=2, executor_stale_after_sec=30
    )
    config = MaintenanceConfig.from_settings(settings)
    assert config.workflow_retention == timedelta(days=7)
    assert config.recovery == RecoveryConfig(heartbeat_interval_sec=2, stale_after_sec=30)
    with pytest.raises(ConfigError, match="retention_workflow_days"):
        load_settings(retention_workflow_days=0)


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        (None, "memory"),
        ("", "memory"),
        ("redis://127.0.0.1:6379/0", "redis"),
        ("rediss://cache.example:6380/1", "redis"),
        ("postgresql://u@db/jb", "postgresql"),
        ("postgresql+asyncpg://u@db/jb", "postgresql"),
    ],
)
def test_governor_store_kind(url: str | None, kind: str) -> None:
    assert governor_store_kind(url) == kind


def test_governor_store_kind_refuses_other_schemes_without_echoing_secrets() -> None:
    with pytest.raises(ConfigError) as caught:
        governor_store_kind("mysql://user:hunter2@db/x")
    assert "hunter2" not in str(caught.value)


async def test_default_governor_store_is_in_memory() -> None:
    async with open_governor_store(None) as store:
        assert isinstance(store, MemoryGovernorStore)


@pytest.mark.parametrize(
    "backend", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)
async def test_postgres_governor_store_is_shared_between_two_opens(
    migrated_database_url: str,
) -> None:
    async with (
        open_governor_store(migrated_database_url) as first,
        open_governor_store(migrated_database_url) as second,
    ):
        await first.advance("site", now=100.0, increment=1.0, ttl=60)
        # The second "process" sees the first one's reservation and queues after it.
        assert await second.advance("site", now=100.0, increment=1.0, ttl=60) == 102.0


class _FlakyHeartbeats:
    """Heartbeats whose database is away for beats 3-7; records when others are judged."""

    def __init__(self, stop: asyncio.Event, beats: int) -> None:
        self.stop = stop
        self.beats = beats
        self.calls = 0
        self.back_at: float | None = None
        self.judged: list[tuple[float, float | None]] = []

    async def beat(self, executor_id: str) -> None:
        now = asyncio.get_running_loop().time()
        self.calls += 1
        if self.calls >= self.beats:
            self.stop.set()
        if 3 <= self.calls <= 7:
            self.back_at = None
            raise StorageError("the database is restarting")
        if self.back_at is None:
            self.back_at = now

    async def stale(self, stale_after_sec: float) -> list[str]:
        self.judged.append((asyncio.get_running_loop().time(), self.back_at))
        return []


async def test_others_are_judged_only_after_our_own_beats_were_back_for_a_stale_period() -> None:
    # After a database outage every heartbeat is old, live workers' too: resuming their
    # workflows then would run them twice. A worker waits until its own beats have been
    # succeeding for a whole staleness period before it declares anyone stopped.
    stop = asyncio.Event()
    heartbeats = _FlakyHeartbeats(stop, beats=20)
    config = MaintenanceConfig(
        recovery=RecoveryConfig(heartbeat_interval_sec=0.05, stale_after_sec=0.2),
        workflow_retention=timedelta(days=1),
        retention_interval_sec=3600,
        retention_batch=10,
    )
    jobs = SimpleNamespace(config=SimpleNamespace(executor_id="me"))

    await run_maintenance(
        cast(JobEngine, jobs),
        cast(async_sessionmaker[AsyncSession], None),
        cast(ExecutorHeartbeats, heartbeats),
        config,
        stop,
        retention=False,
    )

    assert heartbeats.judged, "nobody was ever judged"
    for when, back_at in heartbeats.judged:
        assert back_at is not None
        assert when - back_at >= 0.2
