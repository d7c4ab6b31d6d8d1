from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI

from jirabridge.service.settings import load_settings
from jirabridge.web.app import create_app

from support.processes import RunningProcess, free_port, run_jirabridge


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def app(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[FastAPI]:
    """One app per module with its lifespan running (launching the job engine is the slow part)."""
    data_dir = tmp_path_factory.mktemp("web-data")
    application = create_app(load_settings(data_dir=data_dir, environment="test"))
    async with application.router.lifespan_context(application):
        yield application


@pytest_asyncio.fixture(loop_scope="module")
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


@pytest.fixture(scope="module")
def running_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningProcess]:
    """`jirabridge serve` as a real process on a free loopback port."""
    data_dir = tmp_path_factory.mktemp("serve-data")
    port = free_port()
    with run_jirabridge(
        ["serve", "--port", str(port)],
        port=port,
        log_path=data_dir / "serve.log",
        env={"JIRABRIDGE_DATA_DIR": str(data_dir), "JIRABRIDGE_ENVIRONMENT": "test"},
    ) as running:
        yield running
