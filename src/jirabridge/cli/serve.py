"""``jirabridge serve`` and ``jirabridge worker``: the two process kinds."""

from __future__ import annotations

import asyncio
import signal
from typing import Annotated

import typer
import uvicorn

from jirabridge.cli.common import (
    ConfigOpt,
    DatabaseUrlOpt,
    DataDirOpt,
    build_settings,
    console,
    handle_errors,
)
from jirabridge.service.logconfig import configure_logging
from jirabridge.service.runtime import open_runtime
from jirabridge.service.settings import Settings
from jirabridge.service.webhook_wiring import build_webhooks_context, running_worker
from jirabridge.store import db

__all__ = ["preflight", "register", "run_server"]


async def preflight(settings: Settings) -> None:
    """Fail fast, with a sentence, when the database cannot be reached."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = db.make_engine(settings.effective_database_url)
    try:
        await db.ping(engine)
    finally:
        await engine.dispose()


def run_server(settings: Settings, *, workers: bool) -> None:
    """Run the web app (and, with ``workers``, the durable workers) until interrupted."""
    from jirabridge.web.app import create_app

    configure_logging(settings.log_level, json_lines=settings.log_json)
    asyncio.run(preflight(settings))
    app = create_app(settings, workers=workers)
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,
        proxy_headers=True,
        server_header=False,
    )


@handle_errors
def serve(
    host: Annotated[str | None, typer.Option(help="Address to bind.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to bind.", min=1, max=65535)] = None,
    workers: Annotated[
        bool, typer.Option("--workers/--no-workers", help="Run durable workers in this process.")
    ] = True,
    data_dir: DataDirOpt = None,
    config: ConfigOpt = None,
    database_url: DatabaseUrlOpt = None,
) -> None:
    """Serve the web app, API and webhooks (with the workers, unless --no-workers)."""
    settings = build_settings(
        config=config, data_dir=data_dir, host=host, port=port, database_url=database_url
    )
    console.print(f"Jirabridge on http://{settings.host}:{settings.port}/")
    run_server(settings, workers=workers)


async def _run_worker(settings: Settings) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with open_runtime(settings, workers=True) as runtime:
        # Webhook deliveries wait in their table for any worker process, as durable
        # workflows wait in their queues: a web-only process stores and acknowledges them.
        webhooks = build_webhooks_context(settings, runtime.sessions)
        async with running_worker(webhooks):
            console.print(f"worker {settings.executor_id} running; Ctrl-C to stop")
            await stop.wait()


@handle_errors
def worker(
    data_dir: DataDirOpt = None,
    config: ConfigOpt = None,
    database_url: DatabaseUrlOpt = None,
    executor_id: Annotated[
        str | None, typer.Option(help="Stable id of this worker (for workflow recovery).")
    ] = None,
) -> None:
    """Run durable workers only (scale-out: several of these on one PostgreSQL)."""
    settings = build_settings(
        config=config, data_dir=data_dir, database_url=database_url, executor_id=executor_id
    )
    configure_logging(settings.log_level, json_lines=settings.log_json)
    asyncio.run(preflight(settings))
    asyncio.run(_run_worker(settings))


def register(app: typer.Typer) -> None:
    """Add the process commands to the root CLI."""
    app.command()(serve)
    app.command()(worker)
