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
from jirabridge.web.problems import install_problem_handlers
from jirabridge.web.routes import (
    accounts_api,
    accounts_pages,
    health,
    pages,
    stories_api,
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
                yield
            finally:
                app.state.runtime = None

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
    return app
