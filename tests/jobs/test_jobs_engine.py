"""The job engine on a real DBOS system database (SQLite file and PostgreSQL)."""

from __future__ import annotations

import asyncio
import socket
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from jirabridge.errors import ConfigError, NotFoundError, StorageError, ValidationError
from jirabridge.jobs import registry
from jirabridge.jobs.engine import JobEngine, JobsConfig
from jirabridge.jobs.ids import workflow_id

# Generous bound for work that normally finishes in well under a second; it only turns a
# hang into a failure, it measures nothing.
WAIT_SEC = 30

SITES = registry.declare_site_queue("test-sites", per_site_concurrency=1)
RATED = registry.declare_site_queue(
    "test-rated", per_site_rate=(3, 2.0), per_site_concurrency=2, worker_concurrency=5
)

step_runs: Counter[str] = Counter()
gated_started: list[str] = []
# An asyncio.Event belongs to one loop and each test has its own: made fresh per test.
gates: dict[str, asyncio.Event] = {}


@registry.step()
async def remember(tag: str) -> str:
    step_runs[tag] += 1
    return tag.upper()


@registry.workflow("tests.echo")
async def echo(tag: str) -> str:
    return await remember(tag)


@registry.step()
async def wait_for_gate(tag: str) -> None:
    gated_started.append(tag)
    await gates["open"].wait()


@registry.workflow("tests.gated")
async def gated(tag: str) -> str:
    await wait_for_gate(tag)
    return await remember(tag)


@registry.step()
async def refuse(tag: str) -> None:
    raise ValidationError(f"refused {tag}")


@registry.workflow("tests.failing")
async def failing(tag: str) -> None:
    await refuse(tag)


@pytest.fixture(autouse=True)
async def _reset_module_state() -> None:
    step_runs.clear()
    gated_started.clear()
    gates["open"] = asyncio.Event()


async def test_a_started_workflow_runs_its_steps(job_engine: JobEngine) -> None:
    handle = await job_engine.start(workflow_id("echo", "one"), echo, "one")
    assert await asyncio.wait_for(handle.result(), WAIT_SEC) == "ONE"
    status = await handle.status()
    assert status.state == "SUCCESS"
    assert status.finished
    assert status.name == "tests.echo"
    assert status.application_version == "test-1"
    assert status.executor_id == "test-executor"


async def test_the_same_workflow_id_runs_once(job_engine: JobEngine) -> None:
    wid = workflow_id("echo", "twice")
    first = await job_engine.start(wid, echo, "twice")
    assert await asyncio.wait_for(first.result(), WAIT_SEC) == "TWICE"
    second = await job_engine.start(wid, echo, "twice")
    assert second.workflow_id == wid
    assert await asyncio.wait_for(second.result(), WAIT_SEC) == "TWICE"
    assert step_runs["twice"] == 1


async def test_a_failing_workflow_reports_its_error(job_engine: JobEngine) -> None:
    handle = await job_engine.start(workflow_id("failing", "x"), failing, "x")
    with pytest.raises(ValidationError, match="refused x"):
        await asyncio.wait_for(handle.result(), WAIT_SEC)
    status = await job_engine.status(handle.workflow_id)
    assert status is not None
    assert status.state == "ERROR"
    assert status.error is not None
    assert "refused x" in status.error


async def test_unknown_workflows(job_engine: JobEngine) -> None:
    assert await job_engine.status("no-such-workflow") is None
    with pytest.raises(NotFoundError):
        await job_engine.handle("no-such-workflow")


async def test_sites_are_limited_independently(job_engine: JobEngine) -> None:
    """Site A's two jobs run one at a time; site B's job does not wait for them."""
    a1 = await job_engine.enqueue(SITES, "site-a", workflow_id("gated", "a", 1), gated, "a1")
    a2 = await job_engine.enqueue(SITES, "site-a", workflow_id("gated", "a", 2), gated, "a2")
    b1 = await job_engine.enqueue(SITES, "site-b", workflow_id("echo", "b", 1), echo, "b1")

    assert await asyncio.wait_for(b1.result(), WAIT_SEC) == "B1"
    assert (await b1.status()).site == "site-b"
    # While site A's first job holds its only slot, its second job has not started.
    assert len(gated_started) <= 1
    states = {(await a1.status()).state, (await a2.status()).state}
    assert "ENQUEUED" in states

    gates["open"].set()
    results = await asyncio.wait_for(asyncio.gather(a1.result(), a2.result()), WAIT_SEC)
    assert sorted(results) == ["A1", "A2"]
    assert sorted(gated_started) == ["a1", "a2"]
    assert (await a1.status()).queue == "test-sites"
    assert (await a1.status()).site == "site-a"


async def test_enqueueing_an_existing_id_returns_the_existing_job(job_engine: JobEngine) -> None:
    wid = workflow_id("echo", "queued-twice")
    first = await job_engine.enqueue(SITES, "site-c", wid, echo, "q2")
    second = await job_engine.enqueue("test-sites", "site-c", wid, echo, "q2")
    assert second.workflow_id == first.workflow_id
    assert await asyncio.wait_for(second.result(), WAIT_SEC) == "Q2"
    assert step_runs["q2"] == 1


async def test_enqueue_needs_a_site_and_an_id(job_engine: JobEngine) -> None:
    with pytest.raises(ValidationError):
        await job_engine.enqueue(SITES, " ", "wid", echo, "x")
    with pytest.raises(ValidationError):
        await job_engine.start("", echo, "x")


async def test_only_one_engine_runs_per_process(
    job_engine: JobEngine, jobs_database_url: str, config_for: Callable[[str], JobsConfig]
) -> None:
    with pytest.raises(ConfigError, match="singleton"):
        await JobEngine(config_for(jobs_database_url)).launch()
    await job_engine.ping()


async def test_shutdown_then_relaunch(
    jobs_database_url: str, config_for: Callable[[str], JobsConfig]
) -> None:
    first = JobEngine(config_for(jobs_database_url))
    await first.launch()
    done = await first.start(workflow_id("echo", "before"), echo, "before")
    assert await asyncio.wait_for(done.result(), WAIT_SEC) == "BEFORE"
    await first.shutdown()
    assert not first.launched
    with pytest.raises(StorageError, match="not running"):
        await first.ping()
    # The loop still has a working default executor after DBOS's was shut down.
    assert await asyncio.to_thread(lambda: 41 + 1) == 42

    second = JobEngine(config_for(jobs_database_url))
    await second.launch()
    try:
        await second.ping()
        status = await second.status(done.workflow_id)
        assert status is not None
        assert status.state == "SUCCESS"
    finally:
        await second.shutdown()


@pytest.mark.postgres
async def test_an_unreachable_system_database_fails_launch_cleanly(
    tmp_path: object, config_for: Callable[[str], JobsConfig]
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    broken = JobEngine(config_for(f"postgresql://jb:launchsecret@127.0.0.1:{port}/jb"))
    with pytest.raises(StorageError) as caught:
        await broken.launch()
    assert "launchsecret" not in str(caught.value)
    assert not broken.launched


async def test_a_process_without_workers_leaves_queued_jobs_to_the_workers(
    jobs_database_url: str, config_for: Callable[[str], JobsConfig]
) -> None:
    web_only = JobEngine(replace(config_for(jobs_database_url), run_workers=False))
    await web_only.launch()
    try:
        queued = await web_only.enqueue(
            SITES, "site-w", workflow_id("echo", "for-workers"), echo, "w1"
        )
        # Nothing in this process takes it; a handful of polling rounds later it still waits.
        for _ in range(5):
            await asyncio.sleep(0.1)
            assert (await queued.status()).state == "ENQUEUED"
    finally:
        await web_only.shutdown()
    assert step_runs["w1"] == 0

    worker = JobEngine(config_for(jobs_database_url))
    await worker.launch()
    try:
        handle = await worker.handle(queued.workflow_id)
        assert await asyncio.wait_for(handle.result(), WAIT_SEC) == "W1"
    finally:
        await worker.shutdown()


async def test_listing_jobs_for_a_status_page(job_engine: JobEngine) -> None:
    done = await job_engine.start(workflow_id("echo", "listed", 1), echo, "l1")
    await asyncio.wait_for(done.result(), WAIT_SEC)
    broken = await job_engine.start(workflow_id("failing", "listed"), failing, "l2")
    with pytest.raises(ValidationError):
        await asyncio.wait_for(broken.result(), WAIT_SEC)

    everything = await job_engine.list_jobs()
    assert {job.workflow_id for job in everything} >= {done.workflow_id, broken.workflow_id}
    failed = await job_engine.list_jobs(states=["ERROR"])
    assert [job.workflow_id for job in failed] == [broken.workflow_id]
    echoes = await job_engine.list_jobs(id_prefix="echo:listed")
    assert [job.workflow_id for job in echoes] == [done.workflow_id]
    assert [job.name for job in await job_engine.list_jobs(name="tests.failing")] == [
        "tests.failing"
    ]
    with pytest.raises(ValidationError, match="unknown job states"):
        await job_engine.list_jobs(states=["RUNNING"])


async def test_declared_queues_are_registered_as_partitioned_queues(job_engine: JobEngine) -> None:
    from dbos import DBOS

    queue = await DBOS.retrieve_queue_async(RATED.name)
    assert queue is not None
    assert await queue.get_partition_limiter_async() == {"limit": 3, "period": 2.0}
    assert await queue.get_partition_concurrency_async() == 2
    assert await queue.get_worker_concurrency_async() == 5
    assert await queue.get_polling_interval_sec_async() == job_engine.config.polling_interval_sec


async def test_pruning_deletes_only_what_finished_before_the_cutoff(job_engine: JobEngine) -> None:
    before_any = datetime.now(UTC) - timedelta(hours=1)
    done = await job_engine.start(workflow_id("echo", "pruned"), echo, "p1")
    await asyncio.wait_for(done.result(), WAIT_SEC)
    waiting = await job_engine.start(workflow_id("gated", "kept"), gated, "p2")

    assert await job_engine.prune_finished(before_any) == 0
    assert await job_engine.status(done.workflow_id) is not None

    assert await job_engine.prune_finished(datetime.now(UTC) + timedelta(minutes=1)) == 1
    assert await job_engine.status(done.workflow_id) is None
    assert (await waiting.status()).state == "PENDING"
    with pytest.raises(ValidationError):
        await job_engine.prune_finished(datetime(2026, 1, 1))

    gates["open"].set()
    assert await asyncio.wait_for(waiting.result(), WAIT_SEC) == "P2"
