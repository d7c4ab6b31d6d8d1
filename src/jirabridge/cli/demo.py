"""``jirabridge demo``: the front door — the service on SQLite with sample data, URL and login."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer

from jirabridge.cli.common import build_settings, console, handle_errors
from jirabridge.cli.demo_accounts import seed_demo_accounts
from jirabridge.cli.demo_worklogs import seed_demo_time_records
from jirabridge.cli.serve import run_server

__all__ = ["demo", "register"]


@handle_errors
def demo(
    port: Annotated[int, typer.Option(help="Port of the service.", min=1, max=65535)] = 8080,
    data_dir: Annotated[
        Path, typer.Option("--data-dir", help="Where the demo keeps its files.")
    ] = Path(".demo"),
) -> None:
    """Run the simulator and the service on SQLite in a local folder; print where to open it
    and the admin login (a connection to the simulator is already set up)."""
    from jirabridge.sim.app import SimConfig
    from jirabridge.sim.edges import default_oauth_client
    from jirabridge.sim.server import running_sim

    data_dir = data_dir.resolve()
    with running_sim(SimConfig(state_file=data_dir / "sim-state.json")) as (sim_url, sim_app):
        sim = sim_app.state.sim
        oauth_app = default_oauth_client(sim.config.seed)
        settings = build_settings(
            data_dir=data_dir,
            port=port,
            environment="development",
            allow_private_jira_urls=True,
            base_url=f"http://127.0.0.1:{port}",
            oauth_client_id=oauth_app.client_id,
            oauth_client_secret=oauth_app.client_secret,
            oauth_authorize_url=f"{sim_url}/authorize",
            oauth_token_url=f"{sim_url}/oauth/token",
            oauth_api_base=sim_url,
        )
        login = asyncio.run(
            seed_demo_accounts(
                settings, sim_url=sim_url, sim_email=sim.admin_email, sim_token=sim.admin_token
            )
        )
        issues = sorted(sim.site.issues.values(), key=lambda i: i.key)
        asyncio.run(
            seed_demo_time_records(
                settings,
                email=login.email,
                open_keys=[i.key for i in issues if i.status_id != "10002"][:3],
                closed_key=next((i.key for i in issues if i.status_id == "10002"), None),
            )
        )
        url = f"http://{settings.host}:{settings.port}/"
        console.rule("Jirabridge demo")
        console.print(f"Service:   [bold]{url}[/bold]")
        console.print(f"Log in:    [bold]{login.email}[/bold] / [bold]{login.password}[/bold]")
        console.print(f"Simulator: {sim_url} (Jira connection: {login.message})")
        console.print(f"Data:      {settings.data_dir}")
        console.print("Stop with Ctrl-C.")
        run_server(settings, workers=True)


def register(app: typer.Typer) -> None:
    """Add ``demo`` to the root CLI."""
    app.command()(demo)
