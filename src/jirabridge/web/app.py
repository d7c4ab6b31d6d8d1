"""The FastAPI app factory.

Settings are passed in or built here, never at import time; the lifespan opens the runtime
(database, job engine, shared HTTP client) and closes it on shutdown.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.resources import files

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from jirabridge import __version__
from jirabridge.service.runtime import open_runtime
from jirabridge.service.settings import Settings, load_settings
from jirabridge.service.webhook_wiring import running_worker
from jirabridge.web.problems import declare_problem_responses, install_problem_handlers
from jirabridge.web.routes import (
    accounts_api,
    accounts_pages,
    devlinks_api,
    devlinks_pages,
    github_api,
    github_pages,
    health,
    pages,
    reports_api,
    reports_pages,
    stories_api,
    stories_pages,
    webhooks,
    webhooks_pages,
    worklogs_api,
    worklogs_pages,
)

__all__ = ["create_app"]


def create_app(settings: Settings | None = None, *, workers: bool | None = None) -> FastAPI:
    """Build the web app. ``workers`` overrides ``settings.run_workers`` for this process."""
    settings = settings or load_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with open_runtime(settings, workers=workers) as runtime:
            app.state.runtime = runtime
            try:
                if runtime.jobs.config.run_workers:
                    async with running_worker(webhooks.webhooks_for_app(app)):
                        yield
                else:
                    yield
            finally:
                app.state.runtime = None
                app.state.webhooks = None

    app = FastAPI(
        title="Jirabridge",
        version=__version__,
        lifespan=lifespan,
        docs_url="/api/docs",
        redoc_url=None,
        openapi_url="/api/openapi.json",
    )
    app.state.settings = settings
    app.state.runtime = None
    install_problem_handlers(app)
    app.mount(
        "/static", StaticFiles(directory=str(files("jirabridge.web") / "static")), name="static"
    )
    app.include_router(health.router)
    app.include_router(pages.router)
    app.include_router(worklogs_api.router)
    app.include_router(worklogs_pages.router)
    app.include_router(accounts_api.router)
    app.include_router(accounts_pages.router)
    app.include_router(stories_api.router)
    app.include_router(stories_pages.router)
    app.include_router(stories_pages.router)
    app.include_router(devlinks_api.router)
    app.include_router(github_api.router)
    app.include_router(github_pages.router)
    app.include_router(devlinks_pages.router)
    app.include_router(webhooks.intake_router)
    app.include_router(webhooks.router)
    app.include_router(webhooks_pages.router)
    app.include_router(reports_api.router)
    app.include_router(reports_pages.router)
    declare_problem_responses(app)
    return app
