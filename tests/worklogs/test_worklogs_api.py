"""The REST API over HTTP (in process), against the simulator, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from jirabridge.jobs.engine import JobEngine
from jirabridge.jobs.ids import workflow_id
from jirabridge.sync.worklogs import jobs as worklog_jobs

from .api_support import ApiWorld, add_user, build_world
from .conftest import done_issue_key, jira_for, open_issue_keys

WAIT_SEC = 60  # turns a hang into a failure; measures nothing


@pytest.fixture
async def world(wl_sessions: async_sessionmaker[AsyncSession], tmp_path: Path) -> ApiWorld:
    return await build_world(wl_sessions, tmp_path)


@pytest.fixture
async def api(world: ApiWorld) -> AsyncIterator[httpx.AsyncClient]:
    async with world.client() as client:
        yield client


def record_body(key: str | None, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "started_at": "2026-11-20T09:00:00+01:00",
        "duration_seconds": 1789,
        "time_zone": "Europe/Berlin",
        "notes": "pairing",
        "issue_key": key,
    }
    body.update(extra)
    return body


async def test_crud_filters_pagination_rounding_and_scoping(
    world: ApiWorld, api: httpx.AsyncClient
) -> None:
    key = open_issue_keys(world.sim, 1)[0]
    created = await api.post("/api/time-records", json=record_body(key))
    assert created.status_code == 201, created.text
    record = created.json()
    assert record["duration_seconds"] == 1800  # rounded once, to the nearest minute
    assert record["sync_state"] == "not-synced"
    by_end = await api.post(
        "/api/time-records",
        json=record_body(
            None,
            duration_seconds=None,
            ended_at="2026-11-21T10:00:20+01:00",
            started_at="2026-11-21T09:00:00+01:00",
        ),
    )
    assert by_end.status_code == 201, by_end.text
    assert by_end.json()["duration_seconds"] == 3600
    for bad in (
        record_body(key, started_at="2026-11-20T09:00:00"),
        record_body(key, ended_at="2026-11-20T10:00:00+01:00"),
        record_body("not a key"),
        record_body(key, time_zone="Mars/Base"),
    ):
        refused = await api.post("/api/time-records", json=bad)
        assert refused.status_code == 422, bad
    page = await api.get("/api/time-records", params={"limit": 1})
    assert page.json()["total"] == 2
    assert len(page.json()["items"]) == 1
    assert page.json()["items"][0]["id"] == by_end.json()["id"]  # newest first
    second = await api.get("/api/time-records", params={"limit": 1, "offset": 1})
    assert second.json()["items"][0]["id"] == record["id"]
    only = await api.get("/api/time-records", params={"issue_key": key})
    assert [r["id"] for r in only.json()["items"]] == [record["id"]]
    patched = await api.patch(f"/api/time-records/{record['id']}", json={"notes": "solo"})
    assert patched.json()["notes"] == "solo"
    assert patched.json()["duration_seconds"] == 1800
    # Another user sees none of it.
    _, other_key = await add_user(world.context, "bob@example.com")
    async with world.client(other_key) as other:
        assert (await other.get(f"/api/time-records/{record['id']}")).status_code == 404
        assert (await other.get("/api/time-records")).json()["total"] == 0
        assert (await other.delete(f"/api/time-records/{record['id']}")).status_code == 404
    gone = await api.delete(f"/api/time-records/{record['id']}")
    assert gone.json()["deleted"] is True
    assert (await api.get(f"/api/time-records/{record['id']}")).status_code == 404


async def test_csv_and_json_import_report_errors_per_row(
    world: ApiWorld, api: httpx.AsyncClient
) -> None:
    key = open_issue_keys(world.sim, 1)[0]
    csv_text = (
        "started_at,duration_minutes,time_zone,notes,issue_key\n"
        f"2026-11-20T09:00:00+00:00,30,UTC,one,{key}\n"
        "not a date,30,UTC,two,\n"
        "2026-11-20T11:00:00+00:00,abc,UTC,three,\n"
        "2026-11-20T12:00:00+00:00,45,UTC,four,\n"
    )
    report = await api.post(
        "/api/time-records/import", content=csv_text, headers={"content-type": "text/csv"}
    )
    assert report.status_code == 200, report.text
    body = report.json()
    assert body["created"] == 2
    assert [e["row"] for e in body["errors"]] == [2, 3]
    assert "started_at" in body["errors"][0]["error"]
    assert "abc" in body["errors"][1]["error"]
    as_json = await api.post(
        "/api/time-records/import",
        json={
            "records": [
                {"started_at": "2026-11-20T13:00:00Z", "duration_seconds": 600},
                {"started_at": "2026-11-20T14:00:00Z"},
            ]
        },
    )
    assert as_json.json()["created"] == 1
    assert as_json.json()["errors"][0]["row"] == 2
    assert (await api.get("/api/time-records")).json()["total"] == 3


async def test_issue_picker_and_suggestions(world: ApiWorld, api: httpx.AsyncClient) -> None:
    key = open_issue_keys(world.sim, 1)[0]
    issue = (await api.get(f"/api/jira/issues/{key}")).json()
    assert issue["key"] == key
    assert issue["summary"]
    assert issue["status"]
    assert issue["type"]
    assert (await api.get("/api/jira/issues/NOPE-1")).status_code == 404
    by_key = (await api.get("/api/jira/issues/search", params={"q": key.lower()})).json()
    assert by_key["items"][0]["key"] == key
    jira = jira_for(world.sim)
    await jira.edit_issue(key, fields={"summary": "Quokka migration"})
    await jira.aclose()
    by_text = (await api.get("/api/jira/issues/search", params={"q": "quok"})).json()
    assert [i["key"] for i in by_text["items"]] == [key]
    assert by_text["items"][0]["summary"] == "Quokka migration"
    assigned = await api.get("/api/jira/issues/assigned")
    assert assigned.status_code == 200
    assert all(i["status_category"] != "done" for i in assigned.json()["items"])
    project = key.split("-")[0]
    created = await api.post(
        "/api/time-records",
        json=record_body(
            None,
            notes=f"fixed {key} and XYZ-1, see {project}-0 and {key}",
            external_link=f"https://example.com/browse/{project}-2",
        ),
    )
    record_id = created.json()["id"]
    found = (await api.get(f"/api/time-records/{record_id}/suggestions")).json()
    assert found["keys"] == [key, f"{project}-2"]
    accepted = await api.post(
        "/api/time-records/suggestions/accept", json={"links": {record_id: key}}
    )
    assert accepted.json()["items"][0]["issue_key"] == key


async def test_sync_one_history_errors_and_worklog_delete(
    world: ApiWorld, api: httpx.AsyncClient
) -> None:
    key = open_issue_keys(world.sim, 1)[0]
    record_id = (await api.post("/api/time-records", json=record_body(key))).json()["id"]
    closed_id = (
        await api.post("/api/time-records", json=record_body(done_issue_key(world.sim)))
    ).json()["id"]
    plan = (await api.post("/api/jira/sync/plan", json={"record_ids": [record_id]})).json()
    assert [a["kind"] for a in plan["actions"]] == ["create"]
    assert plan["actions"][0]["started"] == "2026-11-20T09:00:00+01:00"
    synced = (await api.post(f"/api/jira/sync/record/{record_id}")).json()
    assert synced["ok"] is True
    assert synced["action"] == "create"
    worklog_id = synced["record"]["worklog_id"]
    index = world.sim.state.sim.site.worklog_index
    assert index[int(worklog_id)].time_spent_seconds == 1800
    failed = (await api.post(f"/api/jira/sync/record/{closed_id}")).json()
    assert failed["ok"] is False
    assert "closed" in failed["error"]
    history = (await api.get("/api/jira/sync/history")).json()["items"]
    assert [(h["record_id"], h["status"]) for h in history] == [
        (closed_id, "failed"),
        (record_id, "success"),
    ]
    assert history[1]["actor_user_id"] == world.user_id
    only_failed = (await api.get("/api/jira/sync/history", params={"status": "failed"})).json()
    assert [h["record_id"] for h in only_failed["items"]] == [closed_id]
    one = (await api.get("/api/jira/sync/history", params={"record_id": record_id})).json()
    assert [h["worklog_id"] for h in one["items"]] == [worklog_id]
    deleted = (await api.delete(f"/api/jira/worklog/{record_id}")).json()
    assert deleted["ok"] is True
    assert int(worklog_id) not in index
    after = (await api.get(f"/api/time-records/{record_id}")).json()
    assert after["worklog_id"] is None
    assert after["issue_key"] is None


async def test_bulk_sync_progress_by_polling_and_events_then_retry_failed(
    wl_sessions: async_sessionmaker[AsyncSession], tmp_path: Path, jobs: JobEngine
) -> None:
    world = await build_world(wl_sessions, tmp_path, jobs=jobs)
    keys = open_issue_keys(world.sim, 4)
    async with world.client() as api:
        ids = [
            (
                await api.post(
                    "/api/time-records",
                    json=record_body(keys[n % 4], started_at=f"2026-11-20T{8 + n:02d}:00:00Z"),
                )
            ).json()["id"]
            for n in range(8)
        ]
        bad = (await api.post("/api/time-records", json=record_body("NOPE-404"))).json()["id"]
        started = await api.post("/api/jira/sync/bulk", json={"record_ids": [*ids, bad]})
        assert started.status_code == 202, started.text
        run_id = started.json()["run_id"]
        events: list[tuple[str, dict[str, Any]]] = []
        async with asyncio.timeout(WAIT_SEC):
            async with api.stream("GET", f"/api/jira/sync/runs/{run_id}/events") as stream:
                name = ""
                async for line in stream.aiter_lines():
                    if line.startswith("event: "):
                        name = line.removeprefix("event: ")
                    elif line.startswith("data: "):
                        events.append((name, json.loads(line.removeprefix("data: "))))
        assert events[-1][0] == "done"
        assert all(name == "progress" for name, _ in events[:-1])
        done = [e["done"] for _, e in events]
        assert done == sorted(done)
        summary = events[-1][1]
        assert summary["total"] == 9
        assert summary["succeeded"] == 8
        assert summary["failed"] == 1
        assert summary["errors"][0]["record_id"] == bad
        polled = (await api.get(f"/api/jira/sync/runs/{run_id}")).json()
        assert polled["status"] == "finished"
        assert polled["succeeded"] == 8
        _, other_key = await add_user(world.context, "eve@example.com")
        async with world.client(other_key) as other:
            assert (await other.get(f"/api/jira/sync/runs/{run_id}")).status_code == 404
        # Fix the bad record, then retry every failed one.
        await api.patch(f"/api/time-records/{bad}", json={"issue_key": keys[0]})
        retry = (await api.post("/api/jira/sync/retry-failed")).json()
        assert retry["total"] == 1
        async with asyncio.timeout(WAIT_SEC):
            while (await api.get(f"/api/jira/sync/runs/{retry['run_id']}")).json()[
                "status"
            ] != "finished":
                await asyncio.sleep(0.05)
        states = {r["sync_state"] for r in (await api.get("/api/time-records")).json()["items"]}
        assert states == {"synced"}
    assert len(world.sim.state.sim.site.worklog_index) >= 9


async def test_scheduled_pull_is_a_durable_run_that_moves_its_cursor(
    wl_sessions: async_sessionmaker[AsyncSession], tmp_path: Path, jobs: JobEngine
) -> None:
    world = await build_world(wl_sessions, tmp_path, jobs=jobs)
    key = open_issue_keys(world.sim, 1)[0]
    async with world.client() as api:
        created = (await api.post("/api/time-records", json=record_body(key))).json()
        synced = (await api.post(f"/api/jira/sync/record/{created['id']}")).json()
        first = await worklog_jobs.enqueue_pull(jobs, wl_sessions, world.connection_id, slot="1")
        twice = await worklog_jobs.enqueue_pull(jobs, wl_sessions, world.connection_id, slot="1")
        assert twice.workflow_id == first.workflow_id
        async with asyncio.timeout(WAIT_SEC):
            assert (await first.result())["total"] == 0
        world.sim.state.sim.clock.advance(30)
        jira = jira_for(world.sim)
        await jira.update_worklog(key, synced["worklog_id"], comment="fixed in Jira")
        await jira.aclose()
        world.sim.state.sim.clock.advance(120)
        again = await worklog_jobs.enqueue_pull(jobs, wl_sessions, world.connection_id, slot="2")
        assert again.workflow_id != first.workflow_id
        async with asyncio.timeout(WAIT_SEC):
            result = await again.result()
        assert result["succeeded"] == 1
        record = (await api.get(f"/api/time-records/{created['id']}")).json()
        assert record["notes"] == "fixed in Jira"
        assert record["sync_state"] == "synced"
        # The worker's timer: one pull per connection and minute, however often it fires.
        assert record["connection_id"] == world.connection_id
        tick = datetime(2026, 11, 22, 12, 30, 15, tzinfo=UTC)
        due = await worklog_jobs.enqueue_due_pulls(jobs, wl_sessions, now=tick)
        assert due == [world.connection_id]
        await worklog_jobs.enqueue_due_pulls(jobs, wl_sessions, now=tick + timedelta(seconds=30))
        handle = await jobs.handle(
            workflow_id("worklog-pull", world.connection_id, "20261122T1230")
        )
        async with asyncio.timeout(WAIT_SEC):
            assert (await handle.result())["failed"] == 0


async def test_importing_my_own_jira_worklogs_skips_ours_and_is_idempotent(
    world: ApiWorld, api: httpx.AsyncClient
) -> None:
    keys = open_issue_keys(world.sim, 2)
    ours = (await api.post("/api/time-records", json=record_body(keys[0]))).json()
    await api.post(f"/api/jira/sync/record/{ours['id']}")
    jira = jira_for(world.sim)
    by_hand = await jira.add_worklog(
        keys[1],
        started=datetime(2026, 11, 21, 14, tzinfo=UTC),
        time_spent_seconds=2700,
        comment="logged in Jira",
    )
    await jira.aclose()
    world.sim.state.sim.clock.advance(120)
    since = "2026-11-01T00:00:00Z"
    first = (await api.post("/api/jira/worklogs/import", json={"since": since})).json()
    assert first["created"] == 1
    record = (await api.get(f"/api/time-records/{first['ids'][0]}")).json()
    assert record["worklog_id"] == by_hand.id
    assert record["issue_key"] == keys[1]
    assert record["duration_seconds"] == 2700
    assert record["notes"] == "logged in Jira"
    assert record["sync_state"] == "synced"
    again = (await api.post("/api/jira/worklogs/import", json={"since": since})).json()
    assert again["created"] == 0
    plan = (await api.post("/api/jira/sync/plan", json={"record_ids": first["ids"]})).json()
    assert [a["kind"] for a in plan["actions"]] == ["noop"]


async def test_rounding_comes_from_the_settings(
    wl_sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    world = await build_world(
        wl_sessions, tmp_path, worklog_rounding_seconds=900, worklog_minimum_seconds=900
    )
    async with world.client() as api:
        short = await api.post("/api/time-records", json=record_body(None, duration_seconds=100))
        long = await api.post("/api/time-records", json=record_body(None, duration_seconds=1400))
    assert short.json()["duration_seconds"] == 900
    assert long.json()["duration_seconds"] == 1800


async def test_a_conflict_is_shown_with_both_versions_and_resolved_by_the_user(
    world: ApiWorld, api: httpx.AsyncClient
) -> None:
    key = open_issue_keys(world.sim, 1)[0]
    ids = [
        (
            await api.post(
                "/api/time-records",
                json=record_body(key, started_at=f"2026-11-20T{9 + n:02d}:00:00+01:00"),
            )
        ).json()["id"]
        for n in range(2)
    ]
    worklogs = [(await api.post(f"/api/jira/sync/record/{i}")).json()["worklog_id"] for i in ids]
    jira = jira_for(world.sim)
    for worklog_id in worklogs:
        await jira.update_worklog(key, worklog_id, comment="theirs")
    await jira.aclose()
    for record_id in ids:
        await api.patch(f"/api/time-records/{record_id}", json={"notes": "mine"})
        result = (await api.post(f"/api/jira/sync/record/{record_id}")).json()
        assert result["action"] == "conflict"
        assert result["record"]["sync_state"] == "conflict"
        assert result["record"]["conflict"]["local"]["comment"] == "mine"
        assert result["record"]["conflict"]["jira"]["comment"] == "theirs"
    index = world.sim.state.sim.site.worklog_index
    assert all("theirs" in str(index[int(w)].comment) for w in worklogs)
    bad = await api.post(f"/api/time-records/{ids[0]}/resolve", json={"keep": "both"})
    assert bad.status_code == 422
    kept_jira = (
        await api.post(f"/api/time-records/{ids[0]}/resolve", json={"keep": "jira"})
    ).json()
    assert kept_jira["notes"] == "theirs"
    assert kept_jira["sync_state"] == "synced"
    assert (await api.post(f"/api/jira/sync/record/{ids[0]}")).json()["action"] == "noop"
    kept_mine = (
        await api.post(f"/api/time-records/{ids[1]}/resolve", json={"keep": "local"})
    ).json()
    assert kept_mine["notes"] == "mine"
    again = (await api.post(f"/api/jira/sync/record/{ids[1]}")).json()
    assert again["action"] == "update"
    assert "mine" in str(index[int(worklogs[1])].comment)
