"""The stories export REST API with the durable job engine, against the simulator, on SQLite
and PostgreSQL: profiles, mapping options from createmeta, preview -> export of exactly that
plan (409 when anything changed), progress by events and polling, history, rollback and status
refresh; another user's profile, export or connection is a 404 on every route."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from jirabridge.http.sites import site_key
from jirabridge.jobs.engine import JobEngine
from jirabridge.jobs.ids import workflow_id
from jirabridge.sim.app import SimConfig, create_sim_app
from jirabridge.store.account_models import ConnectionKind
from jirabridge.sync.dispatch import HandlerRegistry
from jirabridge.sync.status_plan import IncomingStatus
from jirabridge.sync.status_subjects import STORY_SUBJECT, install_status_subjects
from jirabridge.sync.status_sync import StatusSync
from jirabridge.web.problems import install_problem_handlers
from jirabridge.web.routes import stories_api
from worklogs.api_support import FROZEN, SIM, ApiWorld, add_user, build_world

from .conftest import make_client
from .test_export_sim import YAML
from support.jobs import launched_jobs

WAIT_SEC = 60  # turns a hang into a failure; measures nothing


@pytest.fixture
def sessions(engine: Any) -> async_sessionmaker[AsyncSession]:
    from jirabridge.store.db import session_factory

    return session_factory(engine)


@pytest.fixture
async def jobs(jobs_database_url: str) -> AsyncIterator[JobEngine]:
    async with launched_jobs(jobs_database_url, "stories-api-test") as engine:
        yield engine


def stories_app() -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)
    app.include_router(stories_api.router)
    return app


@pytest.fixture
async def world(
    sessions: async_sessionmaker[AsyncSession], tmp_path: Path, jobs: JobEngine
) -> ApiWorld:
    return await build_world(sessions, tmp_path, jobs=jobs, app=stories_app())


PROFILE = {"project": "DEMO", "story_points_field": "customfield_10016"}


async def make_profile(api: httpx.AsyncClient, world: ApiWorld, name: str = "team") -> str:
    made = await api.post(
        "/api/stories/profiles",
        json={"name": name, "connection_id": world.connection_id, "settings": PROFILE},
    )
    assert made.status_code == 201, made.text
    return str(made.json()["id"])


async def events_of(api: httpx.AsyncClient, export_id: str) -> list[tuple[str, dict[str, Any]]]:
    events: list[tuple[str, dict[str, Any]]] = []
    async with asyncio.timeout(WAIT_SEC):
        async with api.stream("GET", f"/api/stories/exports/{export_id}/events") as stream:
            name = ""
            async for line in stream.aiter_lines():
                if line.startswith("event: "):
                    name = line.removeprefix("event: ")
                elif line.startswith("data: "):
                    events.append((name, json.loads(line.removeprefix("data: "))))
    return events


async def test_profiles_crud(world: ApiWorld) -> None:
    async with world.client() as api:
        profile_id = await make_profile(api, world)
        again = await api.post(
            "/api/stories/profiles",
            json={"name": "team", "connection_id": world.connection_id, "settings": PROFILE},
        )
        assert again.status_code == 409
        bad = await api.post(
            "/api/stories/profiles",
            json={"name": "x", "settings": {"project": "DEMO", "criteria_style": "prose"}},
        )
        assert bad.status_code == 422
        assert "criteria_style" in bad.text
        listed = (await api.get("/api/stories/profiles")).json()["items"]
        assert [p["name"] for p in listed] == ["team"]
        changed = await api.put(
            f"/api/stories/profiles/{profile_id}",
            json={
                "name": "team-b",
                "connection_id": world.connection_id,
                "settings": {**PROFILE, "criteria_style": "bullets"},
            },
        )
        assert changed.status_code == 200, changed.text
        assert changed.json()["version"] == 2
        assert (await api.get(f"/api/stories/profiles/{profile_id}")).json()["name"] == "team-b"
        assert (await api.delete(f"/api/stories/profiles/{profile_id}")).status_code == 204
        assert (await api.get(f"/api/stories/profiles/{profile_id}")).status_code == 404


async def test_mapping_options_come_from_createmeta(world: ApiWorld) -> None:
    async with world.client() as api:
        projects = await api.get(f"/api/stories/connections/{world.connection_id}/projects")
        assert projects.status_code == 200, projects.text
        assert "DEMO" in [p["key"] for p in projects.json()["items"]]
        mapping = (
            await api.get(f"/api/stories/connections/{world.connection_id}/projects/DEMO/mapping")
        ).json()
    assert mapping["levels"] == {
        "epic": "Epic",
        "story": "Story",
        "task": "Task",
        "subtask": "Sub-task",
    }
    assert mapping["story_points_field"]["id"] == "customfield_10016"
    assert "summary" in mapping["required"]["Story"]
    assert mapping["flavor"] == "cloud"


async def test_preview_then_export_exactly_that_plan_with_events_history_and_status(
    world: ApiWorld, jobs: JobEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with world.client() as api:
        profile_id = await make_profile(api, world)
        body = {"filename": "plan.yaml", "content": YAML, "profile_id": profile_id}
        preview = (await api.post("/api/stories/preview", json=body)).json()
        assert preview["counts"] == {"create": 3, "update": 0, "unchanged": 0}
        assert preview["ok"] is True
        before = len(world.sim.state.sim.site.issues)

        missing = await api.post("/api/stories/exports", json=body)
        assert missing.status_code == 422
        edited = {
            **body,
            "content": YAML.replace("Checkout", "Check-out"),
            "plan_id": preview["plan_id"],
        }
        stale = await api.post("/api/stories/exports", json=edited)
        assert stale.status_code == 409, stale.text
        assert "changed since the preview" in stale.json()["title"]
        assert len(world.sim.state.sim.site.issues) == before  # refused before any write

        started = await api.post(
            "/api/stories/exports", json={**body, "plan_id": preview["plan_id"]}
        )
        assert started.status_code == 202, started.text
        export_id = started.json()["export_id"]
        events = await events_of(api, export_id)
        names = [n for n, _ in events]
        assert names[-1] == "done"
        assert sorted(e["item"] for n, e in events if n == "item") == ["E1", "S1", "S2"]
        assert events[-1][1]["counts"] == {"created": 3}
        assert events[-1][1]["ok"] is True

        detail = (await api.get(f"/api/stories/exports/{export_id}")).json()
        assert detail["status"] == "finished"
        assert detail["file_name"] == "plan.yaml"
        assert detail["plan_id"] == preview["plan_id"]
        first = detail["items"][0]
        assert first["outcome"] == "created"
        assert first["url"] == f"{SIM}/browse/{first['key']}"
        assert len(world.sim.state.sim.site.issues) == before + 3

        # Queued in the site's partition, not the connection's.
        status = await jobs.status(workflow_id("story-export", export_id))
        assert status is not None
        assert status.site == site_key(SIM)
        assert status.queue == "stories"

        history = (await api.get("/api/stories/exports")).json()
        assert history["total"] == 1
        assert history["items"][0]["counts"] == {"created": 3}
        assert history["items"][0]["actor_email"] == "ada@example.com"
        assert detail["actor_email"] == "ada@example.com"

        refreshed = (await api.post(f"/api/stories/exports/{export_id}/refresh-status")).json()
        assert {i["jira_status"] for i in refreshed["items"]} == {"To Do"}

        # A later status change brought by a webhook or the poll shows in the export's detail.
        status_sync = StatusSync()
        install_status_subjects(status_sync, HandlerRegistry())
        done = IncomingStatus(first["key"], "Done", "done")
        async with sessions() as session:
            applied = await status_sync.apply_incoming_status(
                session, world.connection_id, done, datetime.now(UTC)
            )
            await session.commit()
        assert [a.subject_kind for a in applied] == [STORY_SUBJECT]
        live = (await api.get(f"/api/stories/exports/{export_id}")).json()
        assert {i["key"]: i["jira_status"] for i in live["items"]} == {
            i["key"]: ("Done" if i["key"] == first["key"] else "To Do") for i in live["items"]
        }

        # The same file again plans nothing, and the old plan no longer applies.
        again = (await api.post("/api/stories/preview", json=body)).json()
        assert again["counts"] == {"create": 0, "update": 0, "unchanged": 3}
        twice = await api.post("/api/stories/exports", json={**body, "plan_id": preview["plan_id"]})
        assert twice.status_code == 409


async def test_a_profile_change_after_the_preview_is_refused(world: ApiWorld) -> None:
    async with world.client() as api:
        profile_id = await make_profile(api, world)
        body = {"filename": "plan.yaml", "content": YAML, "profile_id": profile_id}
        preview = (await api.post("/api/stories/preview", json=body)).json()
        await api.put(
            f"/api/stories/profiles/{profile_id}",
            json={
                "name": "team",
                "connection_id": world.connection_id,
                "settings": {**PROFILE, "label": "other-label"},
            },
        )
        stale = await api.post("/api/stories/exports", json={**body, "plan_id": preview["plan_id"]})
        assert stale.status_code == 409


async def test_problems_and_required_fields_block_the_export(world: ApiWorld) -> None:
    async with world.client() as api:
        body = {
            "filename": "plan.yaml",
            "content": YAML,
            "connection_id": world.connection_id,
            "profile": {"project": "DEMO", "story_type": "Feature"},
        }
        preview = (await api.post("/api/stories/preview", json=body)).json()
        assert preview["ok"] is False
        assert any("no issue type 'Feature'" in p["message"] for p in preview["problems"])
        refused = await api.post(
            "/api/stories/exports", json={**body, "plan_id": preview["plan_id"]}
        )
        assert refused.status_code == 422
        assert "problems" in refused.json()["title"]


async def test_rollback_dry_run_refuses_edited_then_apply(world: ApiWorld) -> None:
    async with world.client() as api:
        profile_id = await make_profile(api, world)
        body = {"filename": "plan.yaml", "content": YAML, "profile_id": profile_id}
        preview = (await api.post("/api/stories/preview", json=body)).json()
        started = await api.post(
            "/api/stories/exports", json={**body, "plan_id": preview["plan_id"]}
        )
        export_id = started.json()["export_id"]
        await events_of(api, export_id)
        items = (await api.get(f"/api/stories/exports/{export_id}")).json()["items"]
        keys = {i["item"]: i["key"] for i in items}
        issues = world.sim.state.sim.site.issues
        jira = make_client(world.sim, "cloud", httpx.ASGITransport(app=world.sim))
        await jira.edit_issue(keys["S2"], fields={"summary": "Renamed by a person"})

        dry = (await api.post(f"/api/stories/exports/{export_id}/rollback", json={})).json()
        actions = {s["item"]: s["action"] for s in dry["steps"]}
        assert actions == {"S1": "delete", "S2": "refuse", "E1": "delete"}
        assert {i.key for i in issues.values()} >= set(keys.values())  # nothing deleted

        done = (
            await api.post(f"/api/stories/exports/{export_id}/rollback", json={"dry_run": False})
        ).json()
        assert {s["item"]: s["outcome"] for s in done["steps"]} == {
            "S1": "done",
            "S2": "refuse",
            "E1": "done",
        }
        remaining = {i.key for i in issues.values()}
        assert keys["S2"] in remaining
        assert keys["S1"] not in remaining
        assert keys["E1"] not in remaining
        detail = (await api.get(f"/api/stories/exports/{export_id}")).json()
        assert detail["rollback"]["mode"] == "delete"
        assert {i["item"]: i["rollback"] for i in detail["items"]}["S2"] == "refuse"

        forced = (
            await api.post(
                f"/api/stories/exports/{export_id}/rollback",
                json={"dry_run": False, "force": True, "mode": "label"},
            )
        ).json()
        assert {s["item"]: s["action"] for s in forced["steps"]}["S2"] == "label"
        labels = (await jira.get_issue(keys["S2"])).fields["labels"]
        assert "jirabridge-rolled-back" in labels
        await jira.aclose()


async def test_another_users_things_are_not_found_on_every_route(
    world: ApiWorld, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with world.client() as api:
        profile_id = await make_profile(api, world)
        body = {"filename": "plan.yaml", "content": YAML, "profile_id": profile_id}
        preview = (await api.post("/api/stories/preview", json=body)).json()
        started = await api.post(
            "/api/stories/exports", json={**body, "plan_id": preview["plan_id"]}
        )
        export_id = started.json()["export_id"]
        await events_of(api, export_id)
    _, mallory = await add_user(world.context, "mallory@example.com")
    cid, pid, eid = world.connection_id, profile_id, export_id
    profile_body = {"name": "mine", "connection_id": cid, "settings": PROFILE}
    calls: list[tuple[str, str, Any]] = [
        ("GET", f"/api/stories/profiles/{pid}", None),
        ("PUT", f"/api/stories/profiles/{pid}", profile_body),
        ("DELETE", f"/api/stories/profiles/{pid}", None),
        ("GET", f"/api/stories/connections/{cid}/projects", None),
        ("GET", f"/api/stories/connections/{cid}/projects/DEMO/mapping", None),
        ("GET", f"/api/stories/exports/{eid}", None),
        ("GET", f"/api/stories/exports/{eid}/events", None),
        ("POST", f"/api/stories/exports/{eid}/rollback", {"dry_run": False}),
        ("POST", f"/api/stories/exports/{eid}/refresh-status", None),
    ]
    routes = {
        (m, getattr(r, "path", ""))
        for r in world.app.routes
        for m in getattr(r, "methods", set())
        if "{" in getattr(r, "path", "") and getattr(r, "path", "").startswith("/api/stories/")
    }
    walked = {
        (
            m,
            p.replace(cid, "{connection_id}")
            .replace(pid, "{profile_id}")
            .replace(eid, "{export_id}")
            .replace("/DEMO/", "/{project}/"),
        )
        for m, p, _ in calls
    }
    assert routes <= walked, routes - walked
    async with world.client(mallory) as other:
        for method, path, payload in calls:
            r = await other.request(method, path, json=payload)
            assert r.status_code == 404, (method, path, r.text)
        # Using someone else's profile or connection in a preview or export is a 404 too.
        assert (await other.post("/api/stories/preview", json=body)).status_code == 404
        inline = {
            "filename": "plan.yaml",
            "content": YAML,
            "connection_id": cid,
            "profile": PROFILE,
        }
        assert (await other.post("/api/stories/preview", json=inline)).status_code == 404
        assert (await other.post("/api/stories/profiles", json=profile_body)).status_code == 404
        assert (await other.get("/api/stories/exports")).json()["total"] == 0
    async with world.client() as api:
        assert (await api.get(f"/api/stories/exports/{eid}")).json()["status"] == "finished"


async def test_bad_file_bad_profile_and_a_read_only_key(world: ApiWorld) -> None:
    body = {
        "filename": "plan.md",
        "content": "# Epic: Missing id\n",
        "connection_id": world.connection_id,
        "profile": {"project": "DEMO"},
    }
    async with world.client() as api:
        preview = (await api.post("/api/stories/preview", json=body)).json()
        assert preview["problems"][0]["line"] == 1
        bad_profile = await api.post(
            "/api/stories/preview", json={**body, "profile": {"flavor": "x"}}
        )
        assert bad_profile.status_code == 422
        neither = {k: v for k, v in body.items() if k != "profile"}
        assert (await api.post("/api/stories/preview", json=neither)).status_code == 422
        unknown = await api.post("/api/stories/preview", json={**body, "filename": "plan.txt"})
        assert unknown.status_code == 422
        assert ".md" in unknown.json()["title"]
    user = await world.context.accounts.create_user(email="reader@example.com", password="x" * 20)
    key = await world.context.accounts.create_api_key(user, name="r", scopes=["read"])
    async with world.client(key.plaintext) as reader:
        good = {**body, "content": YAML, "filename": "plan.yaml"}
        assert (await reader.post("/api/stories/exports", json=good)).status_code in (403, 404)


async def test_data_center_export_links_stories_through_the_epic_link_field(
    sessions: async_sessionmaker[AsyncSession], tmp_path: Path, jobs: JobEngine
) -> None:
    sim = create_sim_app(SimConfig(flavor="datacenter", base_url=SIM, frozen_at=FROZEN, seed=3))
    world = await build_world(
        sessions,
        tmp_path,
        jobs=jobs,
        app=stories_app(),
        sim=sim,
        connection_kind=ConnectionKind.DC_BASIC,
    )
    async with world.client() as api:
        mapping = (
            await api.get(f"/api/stories/connections/{world.connection_id}/projects/DEMO/mapping")
        ).json()
        assert mapping["flavor"] == "datacenter"
        assert mapping["epic_link_field"]["id"] == "customfield_10014"
        assert "customfield_10011" in mapping["required"]["Epic"]  # Epic Name, filled by us
        body = {
            "filename": "plan.yaml",
            "content": YAML,
            "connection_id": world.connection_id,
            "profile": {"project": "DEMO"},
        }
        preview = (await api.post("/api/stories/preview", json=body)).json()
        assert preview["ok"] is True, preview["problems"]
        story = next(i for i in preview["issues"] if i["item"] == "S1")
        assert isinstance(story["fields"]["description"], str)  # wiki markup, not ADF
        started = await api.post(
            "/api/stories/exports", json={**body, "plan_id": preview["plan_id"]}
        )
        export_id = started.json()["export_id"]
        events = await events_of(api, export_id)
        assert events[-1][1]["counts"] == {"created": 3}
        detail = (await api.get(f"/api/stories/exports/{export_id}")).json()
        items = {i["item"]: i["key"] for i in detail["items"]}
    jira = make_client(sim, "datacenter", httpx.ASGITransport(app=sim))
    issue = await jira.get_issue(items["S1"], fields=["customfield_10014"])
    await jira.aclose()
    assert issue.fields["customfield_10014"] == items["E1"]


async def test_transition_rollback_moves_issues_and_the_refresh_shows_it(world: ApiWorld) -> None:
    async with world.client() as api:
        profile_id = await make_profile(api, world)
        body = {"filename": "plan.yaml", "content": YAML, "profile_id": profile_id}
        preview = (await api.post("/api/stories/preview", json=body)).json()
        started = await api.post(
            "/api/stories/exports", json={**body, "plan_id": preview["plan_id"]}
        )
        export_id = started.json()["export_id"]
        await events_of(api, export_id)
        url = f"/api/stories/exports/{export_id}/rollback"
        no_status = await api.post(url, json={"mode": "transition", "dry_run": False})
        assert no_status.status_code == 422
        assert "status to move issues to" in no_status.json()["title"]
        done = (
            await api.post(url, json={"mode": "transition", "to_status": "Done", "dry_run": False})
        ).json()
        assert {s["outcome"] for s in done["steps"]} == {"done"}
        refreshed = (await api.post(f"/api/stories/exports/{export_id}/refresh-status")).json()
        assert {i["jira_status"] for i in refreshed["items"]} == {"Done"}
