"""The service runtime wires housekeeping and the governor store from settings."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from jirabridge.errors import ConfigError
from jirabridge.http.governor_store import MemoryGovernorStore
from jirabridge.jobs.recovery import ExecutorHeartbeats
from jirabridge.service.runtime import open_runtime
from jirabridge.service.settings import load_settings

# Only turns a hang into a failure; not a timing assertion.
BOUND_SEC = 30


async def _wait_for_beat(heartbeats: ExecutorHeartbeats, executor_id: str) -> float | None:
    async with asyncio.timeout(BOUND_SEC):
        while (seen := await heartbeats.last_seen(executor_id)) is None:
            await asyncio.sleep(0.05)
    return seen


async def test_a_worker_runtime_beats_and_a_web_only_runtime_does_not(tmp_path: Path) -> None:
    settings = load_settings(
        data_dir=tmp_path,
        executor_id="wiring-worker",
        heartbeat_interval_sec=0.1,
        executor_stale_after_sec=1,
    )
    async with open_runtime(settings, workers=True) as runtime:
        assert isinstance(runtime.governor_store, MemoryGovernorStore)
        heartbeats = ExecutorHeartbeats(runtime.jobs.config.system_database_url)
        try:
            assert await _wait_for_beat(heartbeats, "wiring-worker") is not None
        finally:
            heartbeats.close()

    web = load_settings(data_dir=tmp_path, executor_id="wiring-web")
    async with open_runtime(web, workers=False) as runtime:
        heartbeats = ExecutorHeartbeats(runtime.jobs.config.system_database_url)
        try:
            assert await heartbeats.last_seen("wiring-web") is None
            # The stopped worker's row is kept, so others could resume its workflows.
            assert await heartbeats.last_seen("wiring-worker") is not None
        finally:
            heartbeats.close()


async def test_a_bad_governor_store_url_refuses_to_start(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path, governor_store_url="mysql://u:hunter2@db/x")
    with pytest.raises(ConfigError) as caught:
        async with open_runtime(settings, workers=False):
            pass
    assert "hunter2" not in str(caught.value)
