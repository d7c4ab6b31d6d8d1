"""2,000 worklogs through the service path (records in SQLite -> plan -> write ledger ->
client -> simulator), under the ``limited`` and ``faulty`` profiles, next to the same worklogs
written by the client alone (``add_worklog_once``).

``python -m bench.worklogs_service [COUNT]``. Prints one line per run; copy them into
bench/RESULTS.md. The simulator runs in process (ASGI), with the profile's 20 ms latency and
its per-issue write limits in real time; every run also checks the exactly-once outcome.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from jirabridge.http import HttpClient
from jirabridge.jira import EXTERNAL_ID_PROPERTY, JiraClient
from jirabridge.sim.app import SimConfig, create_sim_app
from jirabridge.store.accounts import UserRepository
from jirabridge.store.db import make_engine, session_factory, write_transaction
from jirabridge.store.migrations import upgrade_async
from jirabridge.store.worklog_models import TimeRecordRow
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


async def service_run(profile: str, count: int, directory: Path) -> str:
    app = create_sim_app(SimConfig(seed=9, profile=profile))
    keys = _open_keys(app)
    url = f"sqlite+aiosqlite:///{directory / f'{profile}.db'}"
    await upgrade_async(url)
    engine = make_engine(url)
    sessions = session_factory(engine)
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
    jira = _client(app)
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
    await jira.aclose()
    await engine.dispose()
    stamps = _stamps(app)
    exact = set(stamps) == set(ids) and all(v == 1 for v in stamps.values())
    faults = app.state.sim.edges.faults.counters
    assert summary is not None
    return (
        f"service  {profile:<8} {count} worklogs in {elapsed:6.1f} s "
        f"({count / elapsed:5.1f}/s), rounds {rounds}, exactly once: {exact}, "
        f"dropped-after-write {faults.get('dropped_after_write', 0)}, "
        f"5xx {faults.get('error_500', 0) + faults.get('error_503', 0)}"
    )


async def client_run(profile: str, count: int) -> str:
    app = create_sim_app(SimConfig(seed=9, profile=profile))
    keys = _open_keys(app)
    jira = _client(app)
    started = time.perf_counter()
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
    await jira.aclose()
    stamps = _stamps(app)
    doubled = sum(1 for v in stamps.values() if v > 1)
    return (
        f"client   {profile:<8} {count} worklogs in {elapsed:6.1f} s "
        f"({count / elapsed:5.1f}/s), failed {failures}, doubled {doubled}"
    )


async def main(count: int) -> None:
    with tempfile.TemporaryDirectory() as directory:
        for profile in ("limited", "faulty"):
            print(await client_run(profile, count), flush=True)
            print(await service_run(profile, count, Path(directory)), flush=True)


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 2000))
