"""The app factory, probes, error shape and the UI shell, through the real lifespan."""

from __future__ import annotations

import httpx
import pytest
from fastapi import APIRouter, FastAPI

from jirabridge import __version__
from jirabridge.errors import ValidationError

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def test_healthz_answers_with_the_version(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "version": __version__}


async def test_readyz_checks_database_and_jobs(client: httpx.AsyncClient) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"] == {"database": "ok", "jobs": "ok"}


async def test_unknown_path_is_problem_json(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/nothing-here")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == 404
    assert body["type"].endswith("/not-found")


async def test_our_errors_map_to_their_status(app: FastAPI, client: httpx.AsyncClient) -> None:
    router = APIRouter()

    @router.get("/api/_test/refuse")
    async def refuse() -> None:
        raise ValidationError("the duration must be at least 60 seconds", details={"f": "x"})

    app.include_router(router)
    response = await client.get("/api/_test/refuse")
    assert response.status_code == 422
    body = response.json()
    assert body["title"] == "the duration must be at least 60 seconds"
    assert body["errors"] == {"f": "x"}


async def test_dashboard_renders_the_shell(client: httpx.AsyncClient) -> None:
    response = await client.get("/")
    assert response.status_code == 200
    html = response.text
    assert "<nav" in html
    assert "/static/vendor/htmx-2.0.11.min.js" in html
    assert "SQLite" in html


async def test_readiness_fragment_triggers_a_toast(client: httpx.AsyncClient) -> None:
    response = await client.get("/ui/readiness")
    assert response.status_code == 200
    assert "Database: ok" in response.text
    assert "jb:toast" in response.headers["hx-trigger"]


async def test_static_files_are_served(client: httpx.AsyncClient) -> None:
    response = await client.get("/static/vendor/htmx-2.0.11.min.js")
    assert response.status_code == 200
    assert b"htmx" in response.content


async def test_worker_process_runs_the_worklog_pull_timer(client: httpx.AsyncClient) -> None:
    import asyncio

    names = {task.get_name() for task in asyncio.all_tasks()}
    assert "jirabridge:worklog-pulls" in names
