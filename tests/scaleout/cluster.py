"""A scale-out deployment made of real processes, for the process tests.

``jirabridge sim`` (the Jira site), ``jirabridge serve --no-workers`` (web, API, webhook
intake) and N ``jirabridge worker`` processes, all on one PostgreSQL database (application
tables and DBOS's system tables) and one shared governor store. Every process is configured
only through its environment, as an operator would do it.

The test process seeds accounts and records straight into the database (the same services
the CLI uses) and drives the deployment through its REST API and webhook URLs.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from support.processes import (
    RunningProcess,
    free_port,
    spawn_jirabridge,
    stop_process,
    wait_ready,
)

#: Bounds that turn a hang into a failure; nothing here is a timing assertion.
BOUND_SEC = 240.0
SIM_EMAIL = "admin@sim.test"
SIM_TOKEN = "sim-admin-token"
SECRET_KEY = "scale-out-tests-secret-key-long-enough-to-pass"


def wait_for(check: Callable[[], Any], what: str, *, bound: float = BOUND_SEC) -> Any:
    """Poll ``check`` until it returns something truthy; fail after ``bound`` seconds."""
    deadline = time.monotonic() + bound
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting after {bound} s: {what}")
        time.sleep(0.1)  # polling other processes: there is no clock to inject


async def wait_for_async(
    check: Callable[[], Awaitable[bool]], what: str, *, bound: float = BOUND_SEC
) -> None:
    """:func:`wait_for` for a coroutine check (a database query of the test's own loop)."""
    deadline = time.monotonic() + bound
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting after {bound} s: {what}")
        await asyncio.sleep(0.1)  # polling other processes: there is no clock to inject


@dataclass
class Cluster:
    """The running processes and how to reach them."""

    directory: Path
    env: dict[str, str]
    sim: RunningProcess
    web: RunningProcess
    workers: dict[str, RunningProcess] = field(default_factory=dict)

    def spawn_workers(self, *executor_ids: str) -> None:
        """Start ``jirabridge worker`` processes without waiting for them."""
        for executor_id in executor_ids:
            self.workers[executor_id] = spawn_jirabridge(
                ["worker", "--executor-id", executor_id],
                port=None,
                log_path=self.directory / f"{executor_id}.log",
                env=self.env,
            )

    def wait_workers(self, *executor_ids: str) -> None:
        """Wait until each of ``executor_ids`` says it is running."""
        for executor_id in executor_ids:
            wait_ready(
                self.workers[executor_id],
                ready_text=f"worker {executor_id} running",
                timeout=BOUND_SEC,
            )

    def start_workers(self, *executor_ids: str) -> None:
        """Start workers side by side; return when all are running."""
        self.spawn_workers(*executor_ids)
        self.wait_workers(*executor_ids)

    def live_workers(self) -> list[str]:
        """Executor ids of the worker processes still alive."""
        return [name for name, w in self.workers.items() if w.process.poll() is None]

    def sim_get(self, path: str, **params: Any) -> Any:
        """GET from the simulator (admin credentials); the parsed JSON."""
        response = httpx.get(
            self.sim.url + path, params=params, auth=(SIM_EMAIL, SIM_TOKEN), timeout=10
        )
        response.raise_for_status()
        return response.json()

    def sim_statuses(self, status: int) -> int:
        """How many requests the simulator answered with ``status``."""
        stats = self.sim_get("/_sim/stats")
        return sum(row["count"] for row in stats["requests"] if row["status"] == status)

    def logs(self) -> str:
        """Every process's output, for a failure message."""
        parts = [f"--- sim\n{self.sim.log()}", f"--- web\n{self.web.log()}"]
        parts += [f"--- {name}\n{w.log()}" for name, w in self.workers.items()]
        return "\n".join(parts)

    def stop(self) -> None:
        """Stop every process this cluster started (SIGTERM, then SIGKILL)."""
        for running in [*self.workers.values(), self.web, self.sim]:
            with contextlib.suppress(OSError):
                stop_process(running, grace=20)


@contextlib.contextmanager
def running_cluster(
    directory: Path,
    *,
    database_url: str,
    jobs_database_url: str,
    encryption_key: str,
    governor_store_url: str,
    workers: tuple[str, ...],
    sim_profile: str = "limited",
    sim_seed: int = 11,
) -> Iterator[Cluster]:
    """Start the simulator, the web process and ``workers``; stop them all on exit."""
    sim_port = free_port()
    web_port = free_port()
    env = {
        "JIRABRIDGE_ENVIRONMENT": "test",
        "JIRABRIDGE_DATA_DIR": str(directory / "data"),
        "JIRABRIDGE_DATABASE_URL": database_url,
        "JIRABRIDGE_JOBS_DATABASE_URL": jobs_database_url,
        "JIRABRIDGE_ENCRYPTION_KEYS": encryption_key,
        "JIRABRIDGE_SECRET_KEY": SECRET_KEY,
        "JIRABRIDGE_ALLOW_PRIVATE_JIRA_URLS": "true",
        "JIRABRIDGE_GOVERNOR_STORE_URL": governor_store_url,
        "JIRABRIDGE_PORT": str(web_port),
        "JIRABRIDGE_LOG_LEVEL": "WARNING",
        # Short intervals, so a killed worker is noticed within seconds.
        "JIRABRIDGE_HEARTBEAT_INTERVAL_SEC": "0.2",
        "JIRABRIDGE_EXECUTOR_STALE_AFTER_SEC": "1.5",
        "JIRABRIDGE_JOBS_POLLING_INTERVAL_SEC": "0.1",
        # Pulls are timers of their own; these tests look at runs and deliveries only.
        "JIRABRIDGE_WORKLOG_PULL_INTERVAL_SEC": "0",
    }
    sim = spawn_jirabridge(
        [
            "sim",
            "--port",
            str(sim_port),
            "--profile",
            sim_profile,
            "--seed",
            str(sim_seed),
            "--user",
            f"{SIM_EMAIL}:{SIM_TOKEN}",
        ],
        port=sim_port,
        log_path=directory / "sim.log",
    )
    web = spawn_jirabridge(
        ["serve", "--no-workers", "--port", str(web_port)],
        port=web_port,
        log_path=directory / "web.log",
        env=env,
    )
    cluster = Cluster(directory, env, sim, web)
    try:
        # Every process starts at once: start-up (imports, DBOS launch) is most of the cost.
        cluster.spawn_workers(*workers)
        wait_ready(sim, ready_path="/_sim/config", timeout=BOUND_SEC)
        wait_ready(web, timeout=BOUND_SEC)
        cluster.wait_workers(*workers)
        yield cluster
    finally:
        cluster.stop()
