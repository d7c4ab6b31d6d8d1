"""The stories pages over HTTP (no browser): login and CSRF on every form, the profile editor
asking for what Jira requires, preview by upload with problems by line."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from accounts.test_pages import csrf_of, log_in
from jirabridge.store.db import session_factory
from jirabridge.web.routes.stories_pages import _asked_fields, extra_field_value
from worklogs.api_support import PASSWORD, ApiWorld, build_world

from .test_export_browser import BAD, BAD_LINE, GOOD, pages_app


@pytest.fixture
def sessions(engine: Any) -> async_sessionmaker[AsyncSession]:
    return session_factory(engine)


@pytest.fixture
async def world(sessions: async_sessionmaker[AsyncSession], tmp_path: Path) -> ApiWorld:
    return await build_world(sessions, tmp_path, app=pages_app())


@pytest.fixture
async def browser(world: ApiWorld) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=world.app), base_url="http://testserver"
    ) as client:
        yield client


async def test_pages_need_login(browser: httpx.AsyncClient) -> None:
    for path in ("/stories", "/stories/exports", "/stories/profiles/new"):
        r = await browser.get(path)
        assert r.status_code == 303
        assert r.headers["location"] == f"/login?next={path}"


async def test_forms_refuse_a_missing_csrf_token(
    browser: httpx.AsyncClient, world: ApiWorld
) -> None:
    await log_in(browser, "ada@example.com", PASSWORD)
    form = {"name": "team", "connection_id": world.connection_id, "project": "DEMO"}
    r = await browser.post("/stories/profiles", data=form)
    assert r.status_code == 403
    files = {"file": ("plan.yaml", GOOD.encode())}
    r = await browser.post("/stories/preview", data={"profile_id": "x"}, files=files)
    assert r.status_code == 403
    r = await browser.post("/stories/exports/nope/rollback", data={"mode": "delete"})
    assert r.status_code == 403


async def test_profile_then_preview_by_upload(browser: httpx.AsyncClient, world: ApiWorld) -> None:
    csrf = await log_in(browser, "ada@example.com", PASSWORD)
    projects = await browser.get(
        "/stories/ui/projects", params={"connection_id": world.connection_id}
    )
    assert 'value="DEMO"' in projects.text
    mapping = await browser.get(
        "/stories/ui/mapping", params={"connection_id": world.connection_id, "project": "DEMO"}
    )
    assert "Story point estimate" in mapping.text
    assert 'id="no-required"' in mapping.text
    saved = await browser.post(
        "/stories/profiles",
        data={
            "csrf_token": csrf,
            "name": "team",
            "connection_id": world.connection_id,
            "project": "DEMO",
            "epic_type": "Epic",
            "story_type": "Story",
            "story_points_field": "customfield_10016",
            "components": "web, api",
            "label": "",
        },
    )
    assert saved.status_code == 303, saved.text
    profile_id = saved.headers["location"].split("profile_id=")[1]
    upload = await browser.get("/stories")
    assert profile_id in upload.text
    csrf = csrf_of(upload.text)
    bad = await browser.post(
        "/stories/preview",
        data={"csrf_token": csrf, "profile_id": profile_id},
        files={"file": ("plan.yaml", BAD.encode())},
    )
    assert bad.status_code == 200
    assert f'class="problem"><td>S2</td><td>{BAD_LINE}</td>' in bad.text
    assert 'id="export-form"' not in bad.text
    good = await browser.post(
        "/stories/preview",
        data={"csrf_token": csrf, "profile_id": profile_id},
        files={"file": ("plan.yaml", GOOD.encode())},
    )
    assert 'id="export-form"' in good.text
    assert good.text.count('class="card planned"') == 3
    # The profile's default components fill in where an item names none (E1, S2; S1 has web).
    assert good.text.count('[{"name": "web"}, {"name": "api"}]') == 2
    assert good.text.count('[{"name": "web"}]') == 1
    not_yaml = await browser.post(
        "/stories/preview",
        data={"csrf_token": csrf, "profile_id": profile_id},
        files={"file": ("plan.txt", b"hello")},
    )
    assert not_yaml.status_code == 422
    assert 'id="upload-error"' in not_yaml.text


def test_required_fields_are_asked_for_the_chosen_types_only() -> None:
    options = {
        "levels": {"epic": "Epic", "story": "Story"},
        "story_points_field": {"id": "customfield_10016", "name": "Story points"},
        "fields": {
            "Story": [
                {"id": "summary", "name": "Summary", "required": True, "has_default": False},
                {"id": "customfield_1", "name": "Team", "required": True, "has_default": False},
                {"id": "priority", "name": "Priority", "required": True, "has_default": True},
            ],
            "Bug": [{"id": "customfield_2", "name": "Env", "required": True, "has_default": False}],
        },
    }
    asked = _asked_fields(options, {"extra_fields": {"customfield_1": {"value": "Blue"}}})
    assert [(f["id"], f["types"], f["value"]) for f in asked] == [
        ("customfield_1", ["Story"], "Blue")
    ]
    assert [f["id"] for f in _asked_fields(options, {"story_type": "Bug"})] == ["customfield_2"]


def test_extra_field_values_follow_the_schema() -> None:
    assert extra_field_value({"type": "number"}, " 3 ") == 3.0
    assert extra_field_value({"type": "array", "items": "string"}, "a, b") == ["a", "b"]
    assert extra_field_value({"type": "array", "items": "component"}, "web") == [{"name": "web"}]
    assert extra_field_value({"type": "array", "items": "option"}, "x") == [{"value": "x"}]
    assert extra_field_value({"type": "option"}, "Blue") == {"value": "Blue"}
    assert extra_field_value({"type": "priority"}, "High") == {"name": "High"}
    assert extra_field_value(None, "text") == "text"
    with pytest.raises(Exception, match="not a number"):
        extra_field_value({"type": "number"}, "many")
