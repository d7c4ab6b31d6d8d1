"""2,000 worklogs through the service path (records in SQLite -> plan -> write ledger ->
client -> simulator), under the ``limited`` and ``faulty`` profiles, next to the same worklogs
written by the client alone (``add_worklog_once``).

``python -m bench.worklogs_service [COUNT] [--paths client,service,queued]
[--profiles limited,faulty]``. Prints one line per run; copy them into bench/RESULTS.md. The
simulator runs in process (ASGI), with the profile's 20 ms latency and its per-issue write
limits in real time; every run also checks the exactly-once outcome.

Paths: ``client`` is ``add_worklog_once`` in a loop; ``service`` is plan + apply inline (what
``jirabridge worklogs sync`` does); ``queued`` is a bulk run as the API starts it
(``worklog_jobs.start_run``: a DBOS workflow on the site's queue partition, one durable step
per record, executed by this process's worker), with failed records re-queued as a new run
("retry failed") until none is left.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select

from jirabridge.http import HttpClient
from jirabridge.jira import EXTERNAL_ID_PROPERTY, JiraClient
from jirabridge.jobs.engine import JobEngine, JobsConfig
from jirabridge.sim.app import SimConfig, create_sim_app
from jirabridge.store.account_models import ConnectionKind, JiraConnectionRow
from jirabridge.store.accounts import UserRepository
from jirabridge.store.db import make_engine, read_transaction, session_factory, write_transaction
from jirabridge.store.migrations import upgrade_async
from jirabridge.store.worklog_models import TimeRecordRow
from jirabridge.sync.worklogs import jobs as worklog_jobs
from jirabridge.sync.worklogs.executor import WorklogSync

BASE = "http://127.0.0.1"
DAY = datetime(2026, 11, 2, 7, 0, tzinfo=UTC)


def _client(app: Any) -> JiraClient:
    runtime = app.state.sim
    http = HttpClient(
        BASE,
        auth=httpx.BasicAuth(runtime.admin_email, runtime.admin_token),
        transport=httpx.ASGITransport(app=app),
    )
    return JiraClient(BASE, http=http, api_version=3)


def _open_keys(app: Any) -> list[str]:
    return sorted(i.key for i in app.state.sim.site.issues.values() if i.status_id != "10002")


def _stamps(app: Any) -> Counter[str]:
    counts: Counter[str] = Counter()
    for worklog in app.state.sim.site.worklog_index.values():
        stamp = worklog.properties.get(EXTERNAL_ID_PROPERTY)
        if isinstance(stamp, dict):
            counts[str(stamp.get("externalId"))] += 1
    return counts


def _cpu() -> float:
    times = os.times()
    return times.user + times.system


async def _records(sessions: Any, keys: list[str], count: int) -> tuple[str, list[str]]:
    """The owner's id and ``count`` linked, unsynced records."""
    async with write_transaction(sessions) as session:
        user = await UserRepository(session).create(email="bench@example.com", password_hash=None)
        ids = []
        for n in range(count):
            row = TimeRecordRow(
                owner_user_id=user.id,
                issue_key=keys[n % len(keys)],
                started_at=DAY + timedelta(minutes=7 * n),
                duration_seconds=900,
                notes=f"bench {n}",
            )
            session.add(row)
            await session.flush()
            ids.append(row.id)
    return user.id, ids


async def _world(profile: str, count: int, database: Path) -> tuple[Any, Any, Any, str, list[str]]:
    """A simulated site, a migrated SQLite app database and ``count`` records to sync."""
    app = create_sim_app(SimConfig(seed=9, profile=profile))
    url = f"sqlite+aiosqlite:///{database}"
    await upgrade_async(url)
    engine = make_engine(url)
    sessions = session_factory(engine)
    owner, ids = await _records(sessions, _open_keys(app), count)
    return app, engine, sessions, owner, ids


async def service_run(profile: str, count: int, directory: Path) -> str:
    app, engine, sessions, _, ids = await _world(profile, count, directory / f"{profile}.db")
    jira = _client(app)
    cpu = _cpu()
    sync = WorklogSync(sessions, jira, site="bench")
    started = time.perf_counter()
    summary = None
    rounds = 0
    while rounds < 5:
        rounds += 1
        plan = await sync.plan(ids)
        summary = await sync.apply(plan)
        if summary.failed == 0:
            break
    elapsed = time.perf_counter() - started
    cpu = _cpu() - cpu
    await jira.aclose()
    await engine.dispose()
    assert summary is not None
    return _outcome("service", profile, app, ids, elapsed, cpu, rounds, jira.http.stats.requests)


def _outcome(
    path: str,
    profile: str,
    app: Any,
    ids: list[str],
    elapsed: float,
    cpu: float,
    rounds: int,
    requests: int,
) -> str:
    stamps = _stamps(app)
    exact = set(stamps) == set(ids) and all(v == 1 for v in stamps.values())
    faults = app.state.sim.edges.faults.counters
    count = len(ids)
    return (
        f"{path:<8} {profile:<8} {count} worklogs in {elapsed:6.1f} s "
        f"({count / elapsed:5.1f}/s), {1000 * cpu / count:.1f} ms CPU each (bench process, "
        f"simulator included), {requests / count:.2f} requests each, rounds {rounds}, "
        f"exactly once: {exact}, "
        f"dropped-after-write {faults.get('dropped_after_write', 0)}, "
        f"5xx {faults.get('error_500', 0) + faults.get('error_503', 0)}, "
        f"load average {os.getloadavg()[0]:.1f}"
    )


async def queued_run(profile: str, count: int, directory: Path) -> str:
    database = directory / f"queued-{profile}.db"
    app, engine, sessions, owner, ids = await _world(profile, count, database)
    async with write_transaction(sessions) as session:
        connection = JiraConnectionRow(
            owner_user_id=owner, name="sim", kind=ConnectionKind.CLOUD_TOKEN.value, base_url=BASE
        )
        session.add(connection)
        await session.flush()
        connection_id = connection.id
    jira = _client(app)

    @asynccontextmanager
    async def provider(connection: str) -> AsyncIterator[WorklogSync]:
        # One client for the whole run, as a worker's pooled client would be.
        yield WorklogSync(sessions, jira, site=connection)

    worklog_jobs.configure(sessions, provider)
    jobs = JobEngine(
        JobsConfig(
            system_database_url=f"sqlite:///{directory / f'dbos-{profile}.sqlite'}",
            application_version="bench-worklogs",
            executor_id="bench-worklogs",
            polling_interval_sec=0.1,
            log_level="WARNING",
        )
    )
    await jobs.launch()
    started = time.perf_counter()
    cpu = _cpu()
    rounds = 0
    pending = ids
    try:
        while pending and rounds < 5:
            rounds += 1
            _, handle = await worklog_jobs.start_run(
                jobs, sessions, connection_id=connection_id, record_ids=pending, owner_user_id=owner
            )
            await handle.result()
            async with read_transaction(sessions) as session:
                synced = {
                    r.id
                    for r in (await session.execute(select(TimeRecordRow))).scalars()
                    if r.worklog_id is not None
                }
            pending = [i for i in ids if i not in synced]
        elapsed = time.perf_counter() - started
        cpu = _cpu() - cpu
    finally:
        await jobs.shutdown()
        await jira.aclose()
        await engine.dispose()
    return _outcome("queued", profile, app, ids, elapsed, cpu, rounds, jira.http.stats.requests)


async def client_run(profile: str, count: int) -> str:
    app = create_sim_app(SimConfig(seed=9, profile=profile))
    keys = _open_keys(app)
    jira = _client(app)
    started = time.perf_counter()
    cpu = _cpu()
    failures = 0
    for n in range(count):
        try:
            await jira.add_worklog_once(
                keys[n % len(keys)],
                external_id=f"client-{n}",
                started=DAY + timedelta(minutes=7 * n),
                time_spent_seconds=900,
                comment=f"bench {n}",
            )
        except Exception:
            failures += 1
    elapsed = time.perf_counter() - started
    cpu = _cpu() - cpu
    await jira.aclose()
    stamps = _stamps(app)
    doubled = sum(1 for v in stamps.values() if v > 1)
    return (
        f"client   {profile:<8} {count} worklogs in {elapsed:6.1f} s "
        f"({count / elapsed:5.1f}/s), {1000 * cpu / count:.1f} ms CPU each, "
        f"failed {failures}, doubled {doubled}, load average {os.getloadavg()[0]:.1f}"
    )


async def main(count: int, paths: list[str], profiles: list[str]) -> None:
    with tempfile.TemporaryDirectory() as directory:
        for profile in profiles:
            for path in paths:
                if path == "client":
                    line = await client_run(profile, count)
                elif path == "service":
                    line = await service_run(profile, count, Path(directory))
                elif path == "queued":
                    line = await queued_run(profile, count, Path(directory))
                else:
                    raise SystemExit(f"unknown path {path!r}: client, service or queued")
                print(line, flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("count", nargs="?", type=int, default=2000)
    parser.add_argument("--paths", default="client,service,queued")
    parser.add_argument("--profiles", default="limited,faulty")
    args = parser.parse_args()
    asyncio.run(main(args.count, args.paths.split(","), args.profiles.split(",")))
