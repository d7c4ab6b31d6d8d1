"""A worker process for the scale-out tests (run as a script, not collected by pytest).

``scale_worker.py URL EXECUTOR_ID DIR``: launch the job engine as a worker with the given
executor id, run the maintenance loop (heartbeats + recovery of stopped workers) with short
intervals, and work the ``scaleout-demo`` queue until killed or sent SIGTERM.

The demo workflow has two steps; each step appends a line to a marker file in DIR (flushed
and fsynced) naming the workflow, so the test counts how often each step body ran. Step two
also records "enter"/"leave" lines per site in one shared log, with the executor id, so the
test can check that no two jobs of one site ever ran at the same time across processes.
With ``JB_HOLD=1`` step two never returns (the test kills the process there).
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import signal
import sys
from datetime import timedelta
from pathlib import Path

from sqlalchemy.ext.asyncio import async_sessionmaker

from jirabridge.jobs import registry
from jirabridge.jobs.engine import JobEngine, JobsConfig
from jirabridge.jobs.recovery import ExecutorHeartbeats, RecoveryConfig
from jirabridge.service.maintenance import MaintenanceConfig, run_maintenance

DEMO_QUEUE = registry.declare_site_queue("scaleout-demo", per_site_concurrency=1)
HOLD = os.environ.get("JB_HOLD") == "1"
HEARTBEAT_SEC = 0.2
STALE_SEC = 1.0


def append(path: Path, line: str) -> None:
    with path.open("a") as out:
        fcntl.flock(out, fcntl.LOCK_EX)
        out.write(line + "\n")
        out.flush()
        os.fsync(out.fileno())
        fcntl.flock(out, fcntl.LOCK_UN)


@registry.step()
async def first(directory: str, job: str) -> str:
    append(Path(directory) / "step1", job)
    return job


@registry.step()
async def second(directory: str, site: str, job: str) -> str:
    executor = os.environ["JB_EXECUTOR"]
    append(Path(directory) / "sites", f"enter {site} {job} {executor}")
    append(Path(directory) / "step2-started", job)
    if HOLD:
        await asyncio.Event().wait()
    # Long enough that jobs of different sites overlap when the queue lets them.
    await asyncio.sleep(0.1)
    append(Path(directory) / "step2-done", job)
    append(Path(directory) / "sites", f"leave {site} {job} {executor}")
    return executor


@registry.workflow("scaleout.demo")
async def demo(directory: str, site: str, job: str) -> str:
    await first(directory, job)
    return await second(directory, site, job)


async def main(url: str, executor_id: str, directory: str) -> None:
    os.environ["JB_EXECUTOR"] = executor_id
    engine = JobEngine(
        JobsConfig(
            system_database_url=url,
            application_version="scaleout-test-1",
            executor_id=executor_id,
            polling_interval_sec=0.05,
            log_level="WARNING",
        )
    )
    await engine.launch()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    heartbeats = ExecutorHeartbeats(engine.config.system_database_url)
    config = MaintenanceConfig(
        recovery=RecoveryConfig(heartbeat_interval_sec=HEARTBEAT_SEC, stale_after_sec=STALE_SEC),
        workflow_retention=timedelta(days=1),
        retention_interval_sec=86_400,
        retention_batch=100,
    )
    print("ready", flush=True)
    # Retention is off here (no application database): these workers only beat and recover.
    await run_maintenance(engine, async_sessionmaker(), heartbeats, config, stop, retention=False)
    heartbeats.close()
    await engine.shutdown()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3]))
