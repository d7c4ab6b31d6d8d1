"""The executor against the simulator: exactly once under faults and after a crash, updates,
deletes, pull-back, conflicts and per-record errors. Every test runs on SQLite and PostgreSQL."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from jirabridge.errors import StorageError
from jirabridge.http import HttpClient
from jirabridge.http.clock import FakeClock
from jirabridge.jira import EXTERNAL_ID_PROPERTY, JiraClient
from jirabridge.store.accounts import UserRepository
from jirabridge.store.db import read_transaction, write_transaction
from jirabridge.store.ledger import LedgerKey, WriteLedger
from jirabridge.store.models import LedgerState
from jirabridge.store.worklog_models import SyncAttemptRow, SyncState, TimeRecordRow
from jirabridge.sync.worklogs.executor import WorklogSync
from jirabridge.sync.worklogs.planner import ActionKind

from .conftest import done_issue_key, jira_for, make_sim, open_issue_keys

SITE = "sim-test"
DAY = datetime(2026, 11, 16, 8, 0, tzinfo=UTC)


def stamped(app: Any) -> Counter[str]:
    """How many worklogs in the simulated site carry each of our external ids."""
    counts: Counter[str] = Counter()
    for worklog in app.state.sim.site.worklog_index.values():
        stamp = worklog.properties.get(EXTERNAL_ID_PROPERTY)
        if isinstance(stamp, dict):
            counts[str(stamp.get("externalId"))] += 1
    return counts


async def rows(sessions: async_sessionmaker[AsyncSession]) -> dict[str, TimeRecordRow]:
    async with read_transaction(sessions) as session:
        found = (await session.execute(select(TimeRecordRow))).scalars().all()
    return {row.id: row for row in found}


async def edit(sessions: async_sessionmaker[AsyncSession], record_id: str, **values: Any) -> None:
    async with write_transaction(sessions) as session:
        row = await session.get(TimeRecordRow, record_id)
        assert row is not None
        for name, value in values.items():
            setattr(row, name, value)


async def test_faulty_site_gets_exactly_one_worklog_per_record(
    wl_sessions: async_sessionmaker[AsyncSession], add_record: Callable[..., Any]
) -> None:
    # The faulty profile, with the write-applied-then-dropped fault far more frequent than
    # its 1 % so that a short run surely meets it many times.
    app = make_sim("faulty", seed=5, drop_after_write_rate=0.25)
    jira = jira_for(app)
    keys = open_issue_keys(app, 10)
    ids = [
        await add_record(issue_key=keys[n % 10], started_at=DAY + timedelta(minutes=37 * n))
        for n in range(40)
    ]
    sync = WorklogSync(wl_sessions, jira, site=SITE)
    for _ in range(6):
        summary = await sync.sync(ids, run_id="run-1")
        if summary.failed == 0:
            break
    await jira.aclose()
    assert summary.failed == 0, summary.errors
    assert app.state.sim.edges.faults.counters["dropped_after_write"] > 0
    counts = stamped(app)
    assert set(counts) == set(ids)
    assert all(n == 1 for n in counts.values()), counts
    synced = await rows(wl_sessions)
    assert {r.sync_state for r in synced.values()} == {SyncState.SYNCED.value}
    index = app.state.sim.site.worklog_index
    for row in synced.values():
        assert row.worklog_id is not None
        worklog = index[int(row.worklog_id)]
        assert worklog.properties[EXTERNAL_ID_PROPERTY] == {"externalId": row.id}
        assert worklog.time_spent_seconds == 1800
        assert worklog.started_ms == int(row.started_at.timestamp() * 1000)


async def test_a_write_that_landed_before_a_crash_is_adopted_not_repeated(
    wl_sessions: async_sessionmaker[AsyncSession],
    add_record: Callable[..., Any],
    sim_jira: tuple[Any, JiraClient],
) -> None:
    app, jira = sim_jira
    key = open_issue_keys(app, 1)[0]
    record_id = await add_record(issue_key=key, started_at=DAY)
    # The process wrote the intent, sent the POST, Jira applied it, and the process died
    # before it heard the answer.
    ledger = WriteLedger(wl_sessions)
    ledger_key = LedgerKey(SITE, "worklog", record_id)
    await ledger.record_intent(ledger_key, fingerprint="x", target=key)
    await ledger.mark_sent(ledger_key)
    landed = await jira.add_worklog_once(
        key, external_id=record_id, started=DAY, time_spent_seconds=1800, comment="work"
    )
    sync = WorklogSync(wl_sessions, jira, site=SITE)
    plan = await sync.plan([record_id])
    assert plan.actions[0].kind is ActionKind.CREATE
    assert plan.actions[0].reconcile_first
    summary = await sync.apply(plan)
    assert summary.succeeded == 1
    assert stamped(app) == {record_id: 1}
    row = (await rows(wl_sessions))[record_id]
    assert row.worklog_id == landed.id
    entry = await ledger.get(ledger_key)
    assert entry is not None
    assert entry.state is LedgerState.CONFIRMED
    assert entry.remote_id == landed.id


async def test_our_database_failing_after_the_write_is_raised_and_the_retry_adopts(
    wl_sessions: async_sessionmaker[AsyncSession],
    add_record: Callable[..., Any],
    sim_jira: tuple[Any, JiraClient],
) -> None:
    app, jira = sim_jira
    key = open_issue_keys(app, 1)[0]
    record_id = await add_record(issue_key=key, started_at=DAY)
    sync = WorklogSync(wl_sessions, jira, site=SITE)
    real_confirm = sync.ledger.confirm
    calls = 0

    async def database_gone_once(ledger_key: LedgerKey, remote_id: str) -> Any:
        nonlocal calls
        calls += 1
        if calls == 1:  # Jira applied the POST; then our database went away (a restart)
            raise StorageError("write ledger could not confirm the write: connection lost")
        return await real_confirm(ledger_key, remote_id)

    sync.ledger.confirm = database_gone_once  # type: ignore[method-assign,assignment]
    plan = await sync.plan([record_id])
    # Not a failed record: the durable step that called this retries it.
    with pytest.raises(StorageError):
        await sync.apply_action(plan.actions[0], run_id="run-db")
    assert (await rows(wl_sessions))[record_id].sync_state != SyncState.ERROR.value

    retry = await sync.plan([record_id])
    assert retry.actions[0].reconcile_first
    outcome = await sync.apply_action(retry.actions[0], run_id="run-db")
    assert outcome.ok
    assert stamped(app) == {record_id: 1}
    assert (await rows(wl_sessions))[record_id].sync_state == SyncState.SYNCED.value


async def test_a_confirmed_write_the_record_never_heard_of_is_adopted(
    wl_sessions: async_sessionmaker[AsyncSession],
    add_record: Callable[..., Any],
    sim_jira: tuple[Any, JiraClient],
) -> None:
    app, jira = sim_jira
    key = open_issue_keys(app, 1)[0]
    record_id = await add_record(issue_key=key, started_at=DAY)
    sync = WorklogSync(wl_sessions, jira, site=SITE)
    await sync.sync([record_id])
    first = (await rows(wl_sessions))[record_id].worklog_id
    # Crash after the ledger confirmed, before the record was updated.
    await edit(wl_sessions, record_id, worklog_id=None, synced_fingerprint=None)
    plan = await sync.plan([record_id])
    assert plan.actions[0].kind is ActionKind.ADOPT
    await sync.apply(plan)
    assert stamped(app) == {record_id: 1}
    assert (await rows(wl_sessions))[record_id].worklog_id == first


async def test_changes_update_in_place_and_unlinking_deletes(
    wl_sessions: async_sessionmaker[AsyncSession],
    add_record: Callable[..., Any],
    sim_jira: tuple[Any, JiraClient],
) -> None:
    app, jira = sim_jira
    key = open_issue_keys(app, 1)[0]
    record_id = await add_record(issue_key=key, started_at=DAY)
    sync = WorklogSync(wl_sessions, jira, site=SITE)
    await sync.sync([record_id])
    worklog_id = (await rows(wl_sessions))[record_id].worklog_id
    assert worklog_id is not None
    await edit(wl_sessions, record_id, duration_seconds=5400, notes="longer")
    plan = await sync.plan([record_id])
    assert [a.kind for a in plan.actions] == [ActionKind.UPDATE]
    await sync.apply(plan)
    worklog = app.state.sim.site.worklog_index[int(worklog_id)]
    assert worklog.time_spent_seconds == 5400
    assert (await rows(wl_sessions))[record_id].worklog_id == worklog_id
    assert len(app.state.sim.site.worklog_index) == len(set(app.state.sim.site.worklog_index))
    # In step now: nothing to do.
    assert (await sync.plan([record_id])).actions[0].kind is ActionKind.NOOP
    await edit(wl_sessions, record_id, issue_key=None)
    summary = await sync.sync([record_id])
    assert summary.succeeded == 1
    assert int(worklog_id) not in app.state.sim.site.worklog_index
    row = (await rows(wl_sessions))[record_id]
    assert row.worklog_id is None
    assert row.sync_state == SyncState.NOT_SYNCED.value


async def test_bad_input_is_a_clear_per_record_error_and_nothing_is_written(
    wl_sessions: async_sessionmaker[AsyncSession],
    add_record: Callable[..., Any],
    sim_jira: tuple[Any, JiraClient],
) -> None:
    app, jira = sim_jira
    good = open_issue_keys(app, 1)[0]
    ids = {
        "unknown": await add_record(issue_key="NOPE-999", started_at=DAY),
        "closed": await add_record(issue_key=done_issue_key(app), started_at=DAY),
        "empty": await add_record(issue_key=good, started_at=DAY, seconds=0),
        "ok": await add_record(issue_key=good, started_at=DAY + timedelta(hours=1)),
        "unlinked": await add_record(issue_key=None, started_at=DAY),
    }
    before = len(app.state.sim.site.worklog_index)
    summary = await WorklogSync(wl_sessions, jira, site=SITE).sync(list(ids.values()))
    assert summary.total == 5
    assert summary.succeeded == 1
    assert summary.failed == 4
    assert len(app.state.sim.site.worklog_index) == before + 1
    found = await rows(wl_sessions)
    assert "does not exist" in (found[ids["unknown"]].last_error or "")
    assert "closed" in (found[ids["closed"]].last_error or "")
    assert "0 minutes" in (found[ids["empty"]].last_error or "")
    assert "no linked issue" in (found[ids["unlinked"]].last_error or "")
    bad = ("unknown", "closed", "empty", "unlinked")
    assert all(found[ids[k]].sync_state == "error" for k in bad)
    async with read_transaction(wl_sessions) as session:
        attempts = (await session.execute(select(SyncAttemptRow))).scalars().all()
    assert Counter(a.status for a in attempts) == {"failed": 4, "success": 1}


async def test_a_jira_side_change_is_pulled_and_both_sides_make_a_conflict(
    wl_sessions: async_sessionmaker[AsyncSession],
    add_record: Callable[..., Any],
    sim_jira: tuple[Any, JiraClient],
) -> None:
    app, jira = sim_jira
    key = open_issue_keys(app, 1)[0]
    one = await add_record(issue_key=key, started_at=DAY)
    two = await add_record(issue_key=key, started_at=DAY + timedelta(hours=2))
    gone = await add_record(issue_key=key, started_at=DAY + timedelta(hours=4))
    sync = WorklogSync(wl_sessions, jira, site=SITE)
    await sync.sync([one, two, gone])
    found = await rows(wl_sessions)
    await jira.update_worklog(key, found[one].worklog_id or "", time_spent_seconds=2700)
    await jira.update_worklog(key, found[two].worklog_id or "", comment="edited in Jira")
    await jira.delete_worklog(key, found[gone].worklog_id or "")
    await edit(wl_sessions, two, notes="edited here")
    plan = await sync.plan([one, two, gone])
    assert [a.kind for a in plan.actions] == [
        ActionKind.PULL_UPDATE,
        ActionKind.CONFLICT,
        ActionKind.PULL_DELETE,
    ]
    await sync.apply(plan)
    found = await rows(wl_sessions)
    assert found[one].duration_seconds == 2700
    assert found[one].sync_state == SyncState.SYNCED.value
    assert found[two].sync_state == SyncState.CONFLICT.value
    assert found[two].conflict is not None
    assert found[two].conflict["local"]["comment"] == "edited here"
    assert found[two].conflict["jira"]["comment"] == "edited in Jira"
    assert found[gone].deleted_at is not None
    # The conflict stays until the user resolves it: Jira's comment is never overwritten.
    worklog = app.state.sim.site.worklog_index[int(found[two].worklog_id or 0)]
    assert "edited in Jira" in str(worklog.comment)
    assert (await sync.plan([two])).actions[0].kind is ActionKind.CONFLICT


async def test_pull_back_finds_changes_made_in_jira_through_the_feeds(
    wl_sessions: async_sessionmaker[AsyncSession], add_record: Callable[..., Any]
) -> None:
    app = make_sim(frozen_at=datetime(2026, 11, 22, 12, tzinfo=UTC).timestamp())
    jira = jira_for(app)
    clock = app.state.sim.clock
    keys = open_issue_keys(app, 2)
    edited = await add_record(issue_key=keys[0], started_at=DAY)
    removed = await add_record(issue_key=keys[1], started_at=DAY)
    untouched = await add_record(issue_key=keys[1], started_at=DAY + timedelta(hours=3))
    sync = WorklogSync(wl_sessions, jira, site=SITE)
    await sync.sync([edited, removed, untouched])
    clock.advance(120)
    since = clock.now()
    clock.advance(30)
    found = await rows(wl_sessions)
    await jira.update_worklog(keys[0], found[edited].worklog_id or "", time_spent_seconds=4200)
    await jira.delete_worklog(keys[1], found[removed].worklog_id or "")
    # A worklog someone else logged by hand is none of our business.
    await jira.add_worklog(keys[1], started=DAY, time_spent_seconds=600)
    # Jira's feeds leave out the last minute.
    assert (await sync.changed_in_jira(since))[0] == []
    clock.advance(120)
    ids, cursor = await sync.changed_in_jira(since)
    assert sorted(ids) == sorted([edited, removed])
    assert cursor == since + timedelta(seconds=30)
    summary, _ = await sync.pull(since)
    await jira.aclose()
    assert summary.succeeded == 2
    found = await rows(wl_sessions)
    assert found[edited].duration_seconds == 4200
    assert found[edited].sync_state == SyncState.SYNCED.value
    assert found[removed].deleted_at is not None
    assert found[untouched].deleted_at is None
    assert found[untouched].duration_seconds == 1800


class ForbidWorklogsOn(httpx.AsyncBaseTransport):
    """The simulator, except that logging work on one issue is refused with Jira's 403."""

    def __init__(self, app: Any, key: str) -> None:
        self.inner = httpx.ASGITransport(app=app)
        self.path = f"/issue/{key}/worklog"

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST" and request.url.path.endswith(self.path):
            return httpx.Response(
                403,
                json={"errorMessages": ["You do not have the permission to log work."]},
                request=request,
            )
        return await self.inner.handle_async_request(request)


async def test_no_permission_to_log_work_is_a_clear_error_and_nothing_half_written(
    wl_sessions: async_sessionmaker[AsyncSession], add_record: Callable[..., Any]
) -> None:
    app = make_sim()
    key = open_issue_keys(app, 1)[0]
    runtime = app.state.sim
    clock = FakeClock()
    jira = JiraClient(
        "http://127.0.0.1",
        http=HttpClient(
            "http://127.0.0.1",
            auth=httpx.BasicAuth(runtime.admin_email, runtime.admin_token),
            transport=ForbidWorklogsOn(app, key),
            clock=clock,
        ),
        sleep=clock.sleep,
        api_version=3,
    )
    record_id = await add_record(issue_key=key, started_at=DAY)
    summary = await WorklogSync(wl_sessions, jira, site=SITE).sync([record_id])
    await jira.aclose()
    assert summary.failed == 1
    assert summary.errors[0]["error"] == f"no permission to log work on {key}"
    assert stamped(app) == {}
    row = (await rows(wl_sessions))[record_id]
    assert row.sync_state == SyncState.ERROR.value
    assert row.worklog_id is None
    entry = await WriteLedger(wl_sessions).get(LedgerKey(SITE, "worklog", record_id))
    assert entry is not None
    assert entry.state is LedgerState.FAILED


async def test_started_lands_on_the_right_instant_across_dst_and_midnight(
    wl_sessions: async_sessionmaker[AsyncSession], sim_jira: tuple[Any, JiraClient]
) -> None:
    app, jira = sim_jira
    key = open_issue_keys(app, 1)[0]
    berlin = ZoneInfo("Europe/Berlin")
    moments = [
        datetime(2026, 10, 25, 1, 30, tzinfo=berlin),  # CEST, the night clocks go back
        datetime(2026, 10, 25, 3, 30, tzinfo=berlin),  # CET, three hours later
        datetime(2026, 3, 29, 3, 30, tzinfo=berlin),  # just after spring forward
        datetime(2026, 11, 20, 23, 45, tzinfo=berlin),  # before midnight local, 22:45 UTC
    ]
    ids = []
    async with write_transaction(wl_sessions) as session:
        owner = await UserRepository(session).create(email="tz@example.com", password_hash=None)
        for started in moments:
            row = TimeRecordRow(
                owner_user_id=owner.id,
                issue_key=key,
                started_at=started,
                time_zone="Europe/Berlin",
                duration_seconds=600,
                notes="tz",
            )
            session.add(row)
            await session.flush()
            ids.append(row.id)
    summary = await WorklogSync(wl_sessions, jira, site=SITE).sync(ids)
    assert summary.failed == 0
    found = await rows(wl_sessions)
    index = app.state.sim.site.worklog_index
    for record_id, started in zip(ids, moments, strict=True):
        worklog = index[int(found[record_id].worklog_id or 0)]
        assert worklog.started_ms == int(started.timestamp() * 1000)
    assert (
        index[int(found[ids[1]].worklog_id or 0)].started_ms
        - index[int(found[ids[0]].worklog_id or 0)].started_ms
        == 3 * 3600 * 1000
    )
