"""A receiving app for end-to-end tests: only the webhook routes, on a real loopback port."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import uvicorn
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from jirabridge.service.settings import Settings
from jirabridge.service.webhook_wiring import WebhooksContext, build_webhooks_context
from jirabridge.store.secrets import SecretBox
from jirabridge.web.problems import install_problem_handlers
from jirabridge.web.routes import webhooks

__all__ = ["receiving_app", "serve"]


def receiving_app(
    sessions: async_sessionmaker[AsyncSession],
    box: SecretBox,
    data_dir: Path,
    *,
    oauth_client_secret: str | None = None,
    oauth_client_id: str | None = None,
) -> tuple[FastAPI, WebhooksContext]:
    """The intake routes over ``sessions``, with a prepared context (no runtime needed)."""
    settings = Settings(
        data_dir=data_dir,
        oauth_client_secret=oauth_client_secret,
        oauth_client_id=oauth_client_id,
    )
    app = FastAPI()
    install_problem_handlers(app)
    app.include_router(webhooks.intake_router)
    app.include_router(webhooks.router)
    context = build_webhooks_context(settings, sessions, box=box)
    app.state.webhooks = context
    return app, context


@asynccontextmanager
async def serve(app: FastAPI) -> AsyncIterator[str]:
    """Run ``app`` under uvicorn on 127.0.0.1 and a free port, in this event loop."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(app, log_level="critical", lifespan="off", access_log=False)
    )
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
        sock.close()
