"""An app with the worklogs API wired to the simulator, a user with an API key and a
connection to the simulated site (for the API and browser tests)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.resources import files
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.applications import Starlette

from jirabridge.jobs.engine import JobEngine
from jirabridge.service.account_wiring import AccountsContext, build_accounts_context
from jirabridge.service.connections import ConnectionInput
from jirabridge.service.passwords import PasswordHasher
from jirabridge.service.settings import load_settings
from jirabridge.sim.app import SimConfig, create_sim_app
from jirabridge.store.account_models import ConnectionKind
from jirabridge.store.secrets import SecretBox, generate_key
from jirabridge.web.problems import install_problem_handlers

SIM = "http://sim.test"
FROZEN = datetime(2026, 11, 22, tzinfo=UTC).timestamp()


async def resolve(host: str, port: int) -> Sequence[str]:
    return {"sim.test": ["127.0.0.1"]}.get(host, ["93.184.216.34"])


def frozen_sim() -> Starlette:
    """A clean simulated Cloud site on a frozen clock (injected latency costs nothing)."""
    return create_sim_app(SimConfig(base_url=SIM, frozen_at=FROZEN, seed=3))


@dataclass
class ApiWorld:
    """The app, the simulator, and who calls."""

    app: FastAPI
    sim: Starlette
    context: AccountsContext
    user_id: str
    api_key: str
    connection_id: str

    def client(self, key: str | None = None) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app),
            base_url="http://testserver",
            headers={"Authorization": f"Bearer {key or self.api_key}"},
        )


def api_app(*, pages: bool = False) -> FastAPI:
    """An app with the worklogs API (and, with ``pages``, the login and time pages)."""
    from jirabridge.web.routes import accounts_pages, worklogs_api, worklogs_pages

    app = FastAPI()
    install_problem_handlers(app)
    app.include_router(worklogs_api.router)
    if pages:
        app.mount(
            "/static",
            StaticFiles(directory=str(files("jirabridge.web") / "static")),
            name="static",
        )
        app.include_router(accounts_pages.router)
        app.include_router(worklogs_pages.router)
    return app


async def build_world(
    sessions: async_sessionmaker[AsyncSession],
    tmp_path: Path,
    *,
    jobs: JobEngine | None = None,
    sim: Starlette | None = None,
    app: FastAPI | None = None,
    connection_kind: ConnectionKind = ConnectionKind.CLOUD_TOKEN,
    **settings_extra: Any,
) -> ApiWorld:
    """Wire the worklogs router to ``sessions`` and the simulator; add a user and connection
    (a Data Center simulator needs ``connection_kind`` ``DC_BASIC`` or ``DC_PAT``)."""
    sim = sim or frozen_sim()
    settings = load_settings(
        data_dir=tmp_path,
        environment="test",
        allow_private_jira_urls=True,
        base_url="http://testserver",
        secret_key="a-test-secret-key-that-is-long-enough",
        **settings_extra,
    )
    context = build_accounts_context(
        settings,
        sessions,
        box=SecretBox([generate_key()]),
        transport=httpx.ASGITransport(app=sim),
        resolver=resolve,
        hasher=PasswordHasher(time_cost=1, memory_cost=1024),
    )
    app = app or api_app()
    app.state.settings = settings
    app.state.accounts = context
    app.state.runtime = SimpleNamespace(sessions=sessions, jobs=jobs, settings=settings)
    user_id, key = await add_user(context, "ada@example.com")
    runtime: Any = sim.state.sim
    connection, _ = await context.connections.create(
        user_id,
        ConnectionInput(
            name="Sim",
            kind=connection_kind,
            base_url=SIM,
            email=runtime.admin_email,
            secret=runtime.admin_token,
        ),
    )
    return ApiWorld(app, sim, context, user_id, key, connection.id)


PASSWORD = "a long enough password"


async def add_user(context: AccountsContext, email: str) -> tuple[str, str]:
    """A user (password :data:`PASSWORD`) and a read/write API key of theirs."""
    user = await context.accounts.create_user(email=email, password=PASSWORD)
    key = await context.accounts.create_api_key(user, name="tests", scopes=["read", "write"])
    return user.id, key.plaintext
