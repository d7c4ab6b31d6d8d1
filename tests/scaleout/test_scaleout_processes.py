"""Scale-out proof with real processes: several workers on one PostgreSQL.

- Per-site limits hold across processes: jobs of one site never overlap, whichever worker runs
  them, while the work is still spread over the workers; a site queued behind another site's
  burst starts before that burst is done (fairness).
- ``kill -9`` of a worker inside a workflow: the surviving workers see its heartbeat go stale,
  put its workflow back on the queue, and the workflow ends exactly once (the completed step is
  not run again, the interrupted one finishes once).

The test process plays ``jirabridge serve --no-workers``: it enqueues and reads status only.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from types import ModuleType

import pytest

from jirabridge.jobs.engine import JobEngine, JobsConfig

WORKER = Path(__file__).with_name("scale_worker.py")
# Bounds that only turn a hang into a failure; nothing here is a timing assertion.
BOUND_SEC = 90

pytestmark = [
    pytest.mark.slow,
    pytest.mark.parametrize(
        "backend", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
    ),
]


def _load_worker_module() -> ModuleType:
    # The same module the workers run, so this process registers the same workflow and queue.
    spec = importlib.util.spec_from_file_location("scale_worker", WORKER)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["scale_worker"] = module
    spec.loader.exec_module(module)
    return module


scale_worker = _load_worker_module()


def _lines(directory: Path, name: str) -> list[str]:
    marker = directory / name
    return marker.read_text().splitlines() if marker.exists() else []


class Workers:
    """Worker processes started by a test, killed at the end whatever happens."""

    def __init__(self, url: str, directory: Path) -> None:
        self.url = url
        self.directory = directory
        self.processes: dict[str, subprocess.Popen[str]] = {}

    def start(self, *executor_ids: str, hold: bool = False) -> list[subprocess.Popen[str]]:
        """Start workers side by side (their start-up overlaps), return once all are ready."""
        env = {key: value for key, value in os.environ.items() if key != "JB_HOLD"}
        if hold:
            env["JB_HOLD"] = "1"
        for executor_id in executor_ids:
            self.processes[executor_id] = subprocess.Popen(
                [sys.executable, str(WORKER), self.url, executor_id, str(self.directory)],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        for executor_id in executor_ids:
            process = self.processes[executor_id]
            assert process.stdout is not None
            if process.stdout.readline().strip() != "ready":
                process.kill()
                _, errors = process.communicate()
                pytest.fail(f"worker {executor_id} did not start:\n{errors}")
        return [self.processes[executor_id] for executor_id in executor_ids]

    def stop_all(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.communicate()


@pytest.fixture
def markers(tmp_path: Path) -> Path:
    directory = tmp_path / "markers"
    directory.mkdir()
    return directory


@pytest.fixture
def workers(jobs_database_url: str, markers: Path) -> Iterator[Workers]:
    started = Workers(jobs_database_url, markers)
    try:
        yield started
    finally:
        started.stop_all()


@pytest.fixture
async def web_process(jobs_database_url: str) -> AsyncIterator[JobEngine]:
    """This process as a web-only process: enqueues and reads, takes no jobs."""
    engine = JobEngine(
        JobsConfig(
            system_database_url=jobs_database_url,
            application_version="scaleout-test-1",
            executor_id="web",
            polling_interval_sec=0.05,
            log_level="WARNING",
            run_workers=False,
        )
    )
    await engine.launch()
    try:
        yield engine
    finally:
        await engine.shutdown()


def _wait_until(check: object, what: str) -> None:
    deadline = time.monotonic() + BOUND_SEC
    while not check():  # type: ignore[operator]
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting: {what}")
        time.sleep(0.05)


async def test_per_site_limit_and_fairness_hold_across_three_workers(
    workers: Workers, web_process: JobEngine, markers: Path
) -> None:
    workers.start("w1", "w2", "w3")
    handles = []
    # site-a's whole burst is queued before site-b's first job.
    for site in ("site-a", "site-b"):
        for number in range(8):
            job = f"{site}-{number}"
            handles.append(
                await web_process.enqueue(
                    scale_worker.DEMO_QUEUE,
                    site,
                    f"scaleout:{job}",
                    scale_worker.demo,
                    str(markers),
                    site,
                    job,
                )
            )
    executors = {await handle.result() for handle in handles}

    states = {(await handle.status()).state for handle in handles}
    assert states == {"SUCCESS"}
    assert len(executors) >= 2, "the work was not shared between the workers"
    # Replay the enter/leave log: at most one job per site inside step two at any moment.
    inside: dict[str, int] = {"site-a": 0, "site-b": 0}
    for line in _lines(markers, "sites"):
        event, site, _job, _executor = line.split()
        inside[site] += 1 if event == "enter" else -1
        assert 0 <= inside[site] <= 1, f"two jobs of {site} ran at once across workers"
    log = _lines(markers, "sites")
    first_b = next(i for i, line in enumerate(log) if line.startswith("enter site-b"))
    last_a = max(i for i, line in enumerate(log) if line.startswith("leave site-a"))
    assert first_b < last_a, "site-b waited for site-a's whole burst (no per-site fairness)"
    assert sorted(_lines(markers, "step2-done")) == sorted(
        f"{site}-{n}" for n in range(8) for site in ("site-a", "site-b")
    )


async def test_kill_9_mid_workflow_is_resumed_by_another_worker_exactly_once(
    workers: Workers, web_process: JobEngine, markers: Path
) -> None:
    (doomed,) = workers.start("w1", hold=True)
    handle = await web_process.enqueue(
        scale_worker.DEMO_QUEUE,
        "site-a",
        "scaleout:killed",
        scale_worker.demo,
        str(markers),
        "site-a",
        "killed",
    )
    _wait_until(lambda: _lines(markers, "step2-started") == ["killed"], "w1 inside step two")
    doomed.send_signal(signal.SIGKILL)
    doomed.communicate()
    assert doomed.returncode == -signal.SIGKILL
    assert (await handle.status()).state == "PENDING"

    workers.start("w2", "w3")
    winner = await handle.result()

    status = await handle.status()
    assert status.state == "SUCCESS"
    assert winner in ("w2", "w3")
    assert status.executor_id == winner
    assert _lines(markers, "step1") == ["killed"], "the completed step ran again"
    assert _lines(markers, "step2-started") == ["killed", "killed"]
    assert _lines(markers, "step2-done") == ["killed"], "the workflow did not end exactly once"
