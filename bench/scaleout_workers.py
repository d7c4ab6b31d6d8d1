"""Scale-out figures on PostgreSQL: job throughput with 1 and 3 workers, recovery after kill -9.

``python -m bench.scaleout_workers [--jobs 60] [--sites 6]``: creates a throw-away database on
the PostgreSQL at ``JB_BENCH_PG`` (default ``postgresql://postgres@127.0.0.1:5432/postgres``),
runs the demo workflow of ``tests/scaleout/scale_worker.py`` (two steps, the second holds a
site for 0.1 s; one job per site at a time) in real worker processes, and prints:

- jobs per second with 1 and with 3 workers (``--jobs`` jobs spread over ``--sites`` sites);
- seconds from ``kill -9`` of a worker inside a workflow to that workflow's success on another
  worker (heartbeat 0.2 s, stale after 1 s), and how many times its steps ran.

Prints "skipped" and exits 0 when no PostgreSQL answers.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType

from jirabridge.jobs.engine import JobEngine, JobsConfig

ROOT = Path(__file__).resolve().parent.parent
WORKER = ROOT / "tests" / "scaleout" / "scale_worker.py"
ADMIN = os.environ.get("JB_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


def _worker_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("scale_worker", WORKER)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["scale_worker"] = module
    spec.loader.exec_module(module)
    return module


def _admin(sql: str) -> None:
    import psycopg

    with psycopg.connect(ADMIN, autocommit=True, connect_timeout=3) as connection:
        connection.execute(sql)  # type: ignore[arg-type]


def _url(name: str) -> str:
    return ADMIN.rsplit("/", 1)[0] + "/" + name


def _start(
    url: str, markers: Path, ids: list[str], *, hold: bool = False
) -> list[subprocess.Popen[str]]:
    env = {k: v for k, v in os.environ.items() if k != "JB_HOLD"}
    if hold:
        env["JB_HOLD"] = "1"
    procs = [
        subprocess.Popen(
            [sys.executable, str(WORKER), url, executor, str(markers)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        for executor in ids
    ]
    for proc in procs:
        assert proc.stdout is not None
        if proc.stdout.readline().strip() != "ready":
            raise SystemExit("a worker did not start")
    return procs


def _stop(procs: list[subprocess.Popen[str]]) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in procs:
        proc.communicate(timeout=60)


async def _web(url: str) -> JobEngine:
    engine = JobEngine(
        JobsConfig(
            system_database_url=url,
            application_version="scaleout-test-1",
            executor_id="bench-web",
            polling_interval_sec=0.05,
            log_level="WARNING",
            run_workers=False,
        )
    )
    await engine.launch()
    return engine


async def _throughput(worker: ModuleType, url: str, workers: int, jobs: int, sites: int) -> float:
    markers = Path(tempfile.mkdtemp(prefix="jb-bench-"))
    procs = _start(url, markers, [f"tp{workers}-{n}" for n in range(workers)])
    web = await _web(url)
    try:
        began = time.perf_counter()
        handles = [
            await web.enqueue(
                worker.DEMO_QUEUE,
                f"site-{n % sites}",
                f"bench:{workers}:{n}",
                worker.demo,
                str(markers),
                f"site-{n % sites}",
                f"job-{n}",
            )
            for n in range(jobs)
        ]
        for handle in handles:
            await handle.result()
        return jobs / (time.perf_counter() - began)
    finally:
        await web.shutdown()
        _stop(procs)


def _wait_for(path: Path) -> None:
    deadline = time.monotonic() + 120
    while not path.exists():
        if time.monotonic() > deadline:
            raise SystemExit(f"gave up waiting for {path.name}")
        time.sleep(0.02)


async def _recovery(worker: ModuleType, url: str) -> tuple[float, dict[str, int]]:
    markers = Path(tempfile.mkdtemp(prefix="jb-bench-"))
    (doomed,) = _start(url, markers, ["rec-doomed"], hold=True)
    web = await _web(url)
    others: list[subprocess.Popen[str]] = []
    try:
        # Enqueued while the doomed worker is the only one, so it is the one that takes it.
        handle = await web.enqueue(
            worker.DEMO_QUEUE, "site-r", "bench:recovery", worker.demo, str(markers), "site-r", "r"
        )
        await asyncio.to_thread(_wait_for, markers / "step2-started")
        others = _start(url, markers, ["rec-1", "rec-2"])
        killed = time.perf_counter()
        doomed.send_signal(signal.SIGKILL)
        doomed.communicate()
        await handle.result()
        seconds = time.perf_counter() - killed
        runs = {
            name: len((markers / name).read_text().splitlines())
            for name in ("step1", "step2-started", "step2-done")
        }
        return seconds, runs
    finally:
        await web.shutdown()
        _stop(others)


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=60)
    parser.add_argument("--sites", type=int, default=6)
    args = parser.parse_args()
    try:
        _admin("SELECT 1")
    except Exception as exc:  # any failure means no server to measure on
        print(f"skipped: no PostgreSQL at {ADMIN.split('@')[-1]} ({type(exc).__name__})")
        return 0
    worker = _worker_module()
    name = f"jb_bench_scaleout_{os.getpid()}"
    _admin(f'CREATE DATABASE "{name}"')
    try:
        url = _url(name)
        one = await _throughput(worker, url, 1, args.jobs, args.sites)
        three = await _throughput(worker, url, 3, args.jobs, args.sites)
        seconds, runs = await _recovery(worker, url)
    finally:
        _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    print(f"{args.jobs} jobs over {args.sites} sites (one job per site at a time, 0.1 s each):")
    print(f"  1 worker : {one:6.1f} jobs/s")
    print(f"  3 workers: {three:6.1f} jobs/s")
    print(f"kill -9 mid-step to success on another worker: {seconds:.2f} s; step runs {runs}")
    print("Copy these into bench/RESULTS.md and docs/reliability.md.")
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
