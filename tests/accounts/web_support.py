"""An app with the accounts routers, wired to the simulator, for the web tests."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from importlib.resources import files
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.applications import Starlette

from jirabridge.service.account_wiring import AccountsContext, build_accounts_context
from jirabridge.service.passwords import PasswordHasher
from jirabridge.service.settings import Settings, load_settings
from jirabridge.sim.app import SimConfig, SimRuntime, create_sim_app
from jirabridge.sim.edges import default_oauth_client
from jirabridge.store.secrets import SecretBox, generate_key
from jirabridge.web.problems import install_problem_handlers

SIM = "http://sim.test"
KEY = generate_key()
PASSWORD = "correct horse battery staple"


async def resolve(host: str, port: int) -> Sequence[str]:
    return {"sim.test": ["127.0.0.1"]}.get(host, ["93.184.216.34"])


class SimClock:
    def __init__(self, runtime: SimRuntime) -> None:
        self.runtime = runtime

    def __call__(self) -> datetime:
        return datetime.fromtimestamp(self.runtime.clock.time(), UTC)


def make_sim() -> Starlette:
    return create_sim_app(
        SimConfig(base_url=SIM, frozen_at=datetime(2026, 11, 22, tzinfo=UTC).timestamp())
    )


def make_settings(data_dir: Path, sim: Starlette, **extra: Any) -> Settings:
    runtime: SimRuntime = sim.state.sim
    client = default_oauth_client(runtime.config.seed)
    return load_settings(
        data_dir=data_dir,
        environment="test",
        allow_private_jira_urls=True,
        base_url="http://testserver",
        secret_key="a-test-secret-key-that-is-long-enough",
        oauth_client_id=client.client_id,
        oauth_client_secret=client.client_secret,
        oauth_authorize_url=f"{SIM}/authorize",
        oauth_token_url=f"{SIM}/oauth/token",
        oauth_api_base=SIM,
        **extra,
    )


def accounts_app(
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    sim: Starlette,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
) -> FastAPI:
    from jirabridge.web.routes import accounts_api, accounts_pages

    app = FastAPI()
    install_problem_handlers(app)
    app.state.settings = settings
    context: AccountsContext = build_accounts_context(
        settings,
        sessions,
        box=SecretBox([KEY]),
        transport=transport or httpx.ASGITransport(app=sim),
        resolver=resolve,
        clock=SimClock(sim.state.sim),
        hasher=PasswordHasher(time_cost=1, memory_cost=1024),
    )
    app.state.accounts = context
    app.mount(
        "/static", StaticFiles(directory=str(files("jirabridge.web") / "static")), name="static"
    )
    app.include_router(accounts_api.router)
    app.include_router(accounts_pages.router)
    return app
