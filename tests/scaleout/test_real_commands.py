"""Scale-out with the real commands: ``jirabridge serve --no-workers`` + three
``jirabridge worker`` processes on one PostgreSQL, the Jira simulator as its own process
(``limited`` profile: Jira's burst and per-issue write limits), the governor's budgets in Redis.

- Per-site limits hold across workers: three connections to one site sync at once from
  different workers, all their worklogs on one issue; the simulator answers no 429, because
  every worker paces against the one budget in Redis. (With the governor store unset, the
  same workload draws 429s: see docs/reliability.md.)
- Fairness: a connection queued behind another's burst of runs starts before that burst ends.
- ``kill -9`` of the worker running a worklog sync: another worker resumes the run; the
  simulator holds exactly one worklog per record.
- A webhook burst (300 signed deliveries, 30 of them sent twice) to the web process: stored
  once each, processed once each (one attempt, done), by more than one worker.
- The database "restarts" (every connection to it terminated) in the middle of a run: the
  processes reconnect and the run finishes exactly once.
"""

from __future__ import annotations

import json
import os
import signal
import uuid
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from jirabridge.jira import EXTERNAL_ID_PROPERTY
from jirabridge.jira.webhooks import hub_signature
from jirabridge.service.account_wiring import AccountsContext, build_accounts_context
from jirabridge.service.connections import ConnectionInput
from jirabridge.service.passwords import PasswordHasher
from jirabridge.service.settings import load_settings
from jirabridge.service.webhook_intake import create_endpoint
from jirabridge.store.account_models import ConnectionKind
from jirabridge.store.db import make_engine, session_factory, write_transaction
from jirabridge.store.secrets import SecretBox, generate_key
from jirabridge.store.webhook_models import (
    DeliveryStatus,
    EndpointKind,
    WebhookDeliveryRow,
    WebhookSource,
)
from jirabridge.store.worklog_models import TimeRecordRow

from .cluster import (
    BOUND_SEC,
    SIM_EMAIL,
    SIM_TOKEN,
    Cluster,
    running_cluster,
    wait_for,
    wait_for_async,
)
from support.services import REDIS_URL, unavailable

WORKERS = ("w1", "w2", "w3")
DAY = datetime(2026, 11, 16, 7, 0, tzinfo=UTC)

# The suite's 300 s per-test limit counts the module's start-up in the first test; on a box
# shared by many test runs, start-up alone has taken two minutes.
pytestmark = [
    pytest.mark.slow,
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.timeout(900),
]


def _redis_or_skip() -> None:
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.RedisError as exc:
        unavailable("Redis", exc)
    finally:
        client.close()


@pytest.fixture(scope="module")
def databases(postgres_databases: Any, request: pytest.FixtureRequest) -> Iterator[dict[str, str]]:
    """A migrated application database and a DBOS system database for this module."""
    app_template = request.getfixturevalue("_migrated_postgres_template")
    jobs_template = request.getfixturevalue("_dbos_postgres_template")
    app_db = postgres_databases.create(template=app_template)
    jobs_db = postgres_databases.create(template=jobs_template)
    try:
        yield {
            "app": f"postgresql+asyncpg://postgres@127.0.0.1:5432/{app_db}",
            "jobs": f"postgresql+psycopg://postgres@127.0.0.1:5432/{jobs_db}",
            "app_name": app_db,
            "jobs_name": jobs_db,
        }
    finally:
        postgres_databases.drop(app_db)
        postgres_databases.drop(jobs_db)


@pytest.fixture(scope="module")
def encryption_key() -> str:
    return generate_key()


@pytest.fixture(scope="module")
def cluster(
    databases: dict[str, str], encryption_key: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Cluster]:
    _redis_or_skip()
    with running_cluster(
        tmp_path_factory.mktemp("cluster"),
        database_url=databases["app"],
        jobs_database_url=databases["jobs"],
        encryption_key=encryption_key,
        # The negative control (docs/reliability.md) runs the same tests with each worker on
        # its own in-memory budget; the "limits held" assertions are then expected to fail.
        governor_store_url="" if os.environ.get("JIRABRIDGE_TEST_UNSHARED_GOVERNOR") else REDIS_URL,
        workers=WORKERS,
    ) as started:
        yield started


@pytest.fixture
async def sessions(databases: dict[str, str]) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = make_engine(databases["app"])
    try:
        yield session_factory(engine)
    finally:
        await engine.dispose()


@pytest.fixture
def accounts(
    sessions: async_sessionmaker[AsyncSession], encryption_key: str, tmp_path: Path
) -> AccountsContext:
    settings = load_settings(
        environment="test",
        data_dir=tmp_path,
        allow_private_jira_urls=True,
        secret_key="scale-out-tests-secret-key-long-enough-to-pass",
    )
    return build_accounts_context(
        settings,
        sessions,
        box=SecretBox([encryption_key]),
        hasher=PasswordHasher(time_cost=1, memory_cost=1024),
    )


class Tenant:
    """A user with an API key and a token connection to the simulated site."""

    def __init__(self, user_id: str, api_key: str, connection_id: str) -> None:
        self.user_id = user_id
        self.api_key = api_key
        self.connection_id = connection_id

    def api(self, cluster: Cluster) -> httpx.Client:
        return httpx.Client(
            base_url=cluster.web.url,
            headers={"Authorization": f"Bearer {self.api_key}"},
            timeout=30,
        )


async def _tenant(
    accounts: AccountsContext, cluster: Cluster, *, base_url: str | None = None
) -> Tenant:
    """A user with an API key and a connection to the simulator (at ``base_url``: another
    spelling of its address is another site to Jirabridge)."""
    email = f"t-{uuid.uuid4().hex[:8]}@example.com"
    user = await accounts.accounts.create_user(email=email, password="a long enough password")
    key = await accounts.accounts.create_api_key(user, name="tests", scopes=["read", "write"])
    connection, _ = await accounts.connections.create(
        user.id,
        ConnectionInput(
            name="Sim",
            kind=ConnectionKind.CLOUD_TOKEN,
            base_url=base_url or cluster.sim.url,
            email=SIM_EMAIL,
            secret=SIM_TOKEN,
        ),
    )
    return Tenant(user.id, key.plaintext, connection.id)


def _open_issues(cluster: Cluster, count: int) -> list[str]:
    found = cluster.sim_get(
        "/rest/api/3/search/jql",
        jql="statusCategory != Done ORDER BY key",
        fields="summary",
        maxResults=count,
    )
    keys = [issue["key"] for issue in found["issues"]]
    assert len(keys) == count
    return keys


async def _records(
    sessions: async_sessionmaker[AsyncSession],
    tenant: Tenant,
    issues: list[str],
    count: int,
    *,
    offset_minutes: int,
) -> list[str]:
    async with write_transaction(sessions) as session:
        rows = [
            TimeRecordRow(
                owner_user_id=tenant.user_id,
                connection_id=tenant.connection_id,
                issue_key=issues[n % len(issues)],
                # Distinct start times: each record is its own worklog.
                started_at=DAY + timedelta(minutes=offset_minutes + 3 * n),
                duration_seconds=900,
                notes=f"scale-out {n}",
            )
            for n in range(count)
        ]
        session.add_all(rows)
        await session.flush()
        return [row.id for row in rows]


def _start_run(cluster: Cluster, tenant: Tenant, record_ids: list[str]) -> str:
    with tenant.api(cluster) as api:
        response = api.post(
            "/api/jira/sync/bulk",
            json={"record_ids": record_ids, "connection_id": tenant.connection_id},
        )
    assert response.status_code == 202, response.text
    run_id: str = response.json()["run_id"]
    return run_id


def _run_status(cluster: Cluster, tenant: Tenant, run_id: str) -> dict[str, Any]:
    with tenant.api(cluster) as api:
        response = api.get(f"/api/jira/sync/runs/{run_id}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _wait_finished(cluster: Cluster, tenant: Tenant, run_id: str) -> dict[str, Any]:
    def finished() -> dict[str, Any] | None:
        status = _run_status(cluster, tenant, run_id)
        return status if status["status"] == "finished" else None

    try:
        result: dict[str, Any] = wait_for(finished, f"run {run_id} finished")
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{cluster.logs()[-6000:]}") from None
    return result


def _stamps(cluster: Cluster) -> dict[str, int]:
    """Worklogs in the simulator per record id (our external-id property)."""
    stats = cluster.sim_get("/_sim/stats", worklogProperty=EXTERNAL_ID_PROPERTY)
    counts: dict[str, int] = {}
    for value, n in stats["worklogs"]["byValue"].items():
        parsed = json.loads(value) if value.startswith("{") else value
        record = parsed.get("externalId") if isinstance(parsed, dict) else parsed
        counts[str(record)] = n
    return counts


def _executors(jobs_db: str, run_ids: list[str]) -> dict[str, str]:
    """Which executor finished each run's workflow (DBOS's own books)."""
    with psycopg.connect(f"host=127.0.0.1 user=postgres dbname={jobs_db}") as connection:
        rows = connection.execute(
            "SELECT workflow_uuid, executor_id FROM dbos.workflow_status "
            "WHERE workflow_uuid = ANY(%s)",
            ([f"worklog-run:{run_id}" for run_id in run_ids],),
        ).fetchall()
    return {str(uuid_).split(":", 1)[1]: str(executor) for uuid_, executor in rows}


def _run_window(jobs_db: str, run_id: str) -> tuple[int, int]:
    with psycopg.connect(f"host=127.0.0.1 user=postgres dbname={jobs_db}") as connection:
        row = connection.execute(
            "SELECT started_at_epoch_ms, updated_at FROM dbos.workflow_status "
            "WHERE workflow_uuid = %s",
            (f"worklog-run:{run_id}",),
        ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


async def test_three_workers_share_one_site_budget_and_no_tenant_waits_for_another(
    cluster: Cluster,
    accounts: AccountsContext,
    sessions: async_sessionmaker[AsyncSession],
    databases: dict[str, str],
) -> None:
    issues = _open_issues(cluster, 3)
    # Tenant 0's site is the simulator at 127.0.0.1; tenants 1 and 2 reach it as `localhost`,
    # which Jirabridge keys as another site (their own queue partition and budget), writing to
    # other issues so Jira's per-issue windows of one do not involve the others.
    other_site = cluster.sim.url.replace("127.0.0.1", "localhost")
    assert other_site != cluster.sim.url
    tenants = [
        await _tenant(accounts, cluster),
        await _tenant(accounts, cluster, base_url=other_site),
        await _tenant(accounts, cluster, base_url=other_site),
    ]
    throttled_before = cluster.sim_statuses(429)
    # Tenant 0 queues a burst of three runs first (one site: they run one after another);
    # tenants 1 and 2 queue one run each after it.
    burst = [
        await _records(sessions, tenants[0], issues[:1], 8, offset_minutes=1000 * n)
        for n in range(3)
    ]
    others = [
        await _records(sessions, tenant, issues[1 + n : 2 + n], 16, offset_minutes=5000 + 1000 * n)
        for n, tenant in enumerate(tenants[1:])
    ]
    burst_runs = [_start_run(cluster, tenants[0], ids) for ids in burst]
    other_runs = [
        _start_run(cluster, tenant, ids) for tenant, ids in zip(tenants[1:], others, strict=True)
    ]

    results = [_wait_finished(cluster, tenants[0], run) for run in burst_runs]
    results += [
        _wait_finished(cluster, tenant, run)
        for tenant, run in zip(tenants[1:], other_runs, strict=True)
    ]

    assert [r["succeeded"] for r in results] == [8, 8, 8, 16, 16], results
    assert all(r["failed"] == 0 for r in results)
    every_record = [*(i for ids in burst for i in ids), *(i for ids in others for i in ids)]
    stamps = _stamps(cluster)
    assert all(stamps.get(record) == 1 for record in every_record)
    # The simulator enforces Jira's per-issue windows (20 writes per 2 s): the burst's 24
    # worklogs on one issue, written by whichever worker takes each run, stay inside them only
    # if the processes share the site's budget.
    assert cluster.sim_statuses(429) == throttled_before, "the site's limits were exceeded"
    executors = _executors(databases["jobs_name"], burst_runs + other_runs)
    assert len(set(executors.values())) >= 2, f"the work was not shared: {executors}"
    # Fairness: tenants 1 and 2 (queued after the burst) started before it was done.
    burst_end = max(_run_window(databases["jobs_name"], run)[1] for run in burst_runs)
    for run in other_runs:
        assert _run_window(databases["jobs_name"], run)[0] < burst_end


async def test_kill_9_of_the_worker_running_a_sync_ends_exactly_once(
    cluster: Cluster,
    accounts: AccountsContext,
    sessions: async_sessionmaker[AsyncSession],
    databases: dict[str, str],
) -> None:
    issues = _open_issues(cluster, 5)
    tenant = await _tenant(accounts, cluster)
    ids = await _records(sessions, tenant, issues, 30, offset_minutes=20_000)
    run_id = _start_run(cluster, tenant, ids)

    def runner() -> str | None:
        written = sum(n for r, n in _stamps(cluster).items() if r in set(ids))
        if written < 5:
            return None
        return _executors(databases["jobs_name"], [run_id]).get(run_id)

    doomed = wait_for(runner, "the run under way on some worker")
    process = cluster.workers[doomed].process
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=BOUND_SEC)
    assert process.returncode == -signal.SIGKILL
    assert _run_status(cluster, tenant, run_id)["status"] != "finished"

    result = _wait_finished(cluster, tenant, run_id)

    assert result["succeeded"] == 30, result
    assert result["failed"] == 0
    winner = _executors(databases["jobs_name"], [run_id])[run_id]
    assert winner != doomed
    assert winner in cluster.live_workers()
    stamps = _stamps(cluster)
    assert {r: stamps.get(r) for r in ids} == dict.fromkeys(ids, 1)
    # Back to three workers for whatever runs next (same executor id, as a restart would).
    cluster.start_workers(doomed)


async def test_a_webhook_burst_is_shared_by_the_workers_and_processed_once(
    cluster: Cluster,
    accounts: AccountsContext,
    sessions: async_sessionmaker[AsyncSession],
    encryption_key: str,
) -> None:
    tenant = await _tenant(accounts, cluster)
    async with sessions() as session:
        endpoint, secret = await create_endpoint(
            session,
            SecretBox([encryption_key]),
            owner_user_id=tenant.user_id,
            name="burst",
            source=WebhookSource.JIRA,
            kind=EndpointKind.ADMIN,
        )
        await session.commit()
        endpoint_id = endpoint.id
    burst = 300
    url = f"{cluster.web.url}/webhooks/jira/{endpoint_id}"

    def send(n: int) -> int:
        body = json.dumps(
            {"webhookEvent": "jira:issue_updated", "timestamp": n, "issue": {"key": "X-1"}}
        ).encode()
        headers = {
            "Content-Type": "application/json",
            "X-Hub-Signature": hub_signature(body, secret),
            "X-Atlassian-Webhook-Identifier": f"burst-{n}",
        }
        with httpx.Client(timeout=30) as client:
            codes = [client.post(url, content=body, headers=headers).status_code]
            if n % 10 == 0:  # Jira retrying after a lost answer: same identifier
                codes.append(client.post(url, content=body, headers=headers).status_code)
        return max(codes)

    with ThreadPoolExecutor(max_workers=8) as pool:
        codes = list(pool.map(send, range(burst)))
    assert set(codes) <= {200, 202}, codes

    async def rows() -> list[WebhookDeliveryRow]:
        async with sessions() as session:
            found = await session.scalars(
                select(WebhookDeliveryRow).where(WebhookDeliveryRow.endpoint_id == endpoint_id)
            )
            return list(found)

    async def all_done() -> bool:
        async with sessions() as session:
            done = await session.scalar(
                select(func.count())
                .select_from(WebhookDeliveryRow)
                .where(
                    WebhookDeliveryRow.endpoint_id == endpoint_id,
                    WebhookDeliveryRow.status == DeliveryStatus.DONE.value,
                )
            )
        return done == burst

    await wait_for_async(all_done, "every delivery processed")
    stored = await rows()
    assert len(stored) == burst
    assert {row.status for row in stored} == {DeliveryStatus.DONE.value}
    assert {row.attempts for row in stored} == {1}
    by_worker: dict[str, int] = {}
    for row in stored:
        assert row.lease_owner is not None
        by_worker[row.lease_owner] = by_worker.get(row.lease_owner, 0) + 1
    assert set(by_worker) <= set(WORKERS), by_worker
    assert len(by_worker) >= 2, f"one worker took the whole burst: {by_worker}"


async def test_the_database_restarting_mid_run_loses_and_repeats_nothing(
    cluster: Cluster,
    accounts: AccountsContext,
    sessions: async_sessionmaker[AsyncSession],
    databases: dict[str, str],
) -> None:
    issues = _open_issues(cluster, 5)
    tenant = await _tenant(accounts, cluster)
    ids = await _records(sessions, tenant, issues, 24, offset_minutes=40_000)
    run_id = _start_run(cluster, tenant, ids)
    wait_for(
        lambda: sum(n for r, n in _stamps(cluster).items() if r in set(ids)) >= 5,
        "the run under way",
    )
    # What a PostgreSQL restart looks like to its clients: every connection cut at once.
    with psycopg.connect("host=127.0.0.1 user=postgres dbname=postgres", autocommit=True) as admin:
        cut = admin.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = ANY(%s) AND pid <> pg_backend_pid()",
            ([databases["app_name"], databases["jobs_name"]],),
        ).fetchone()
    assert cut is not None
    assert cut[0] > 0

    result = _wait_finished(cluster, tenant, run_id)

    assert result["succeeded"] == 24, json.dumps(result)
    stamps = _stamps(cluster)
    wrong = {r: stamps.get(r) for r in ids if stamps.get(r) != 1}
    assert not wrong, (
        f"worklogs per record, where not exactly one: {wrong}\n{cluster.logs()[-8000:]}"
    )
    assert sorted(cluster.live_workers()) == sorted(WORKERS), cluster.logs()[-4000:]
    with httpx.Client(timeout=10) as client:
        assert client.get(cluster.web.url + "/readyz").status_code == 200
