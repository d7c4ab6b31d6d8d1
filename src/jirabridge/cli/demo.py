"""``jirabridge demo``: the front door — the service on SQLite with sample data, URL and login."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from jirabridge.cli.common import build_settings, console, handle_errors
from jirabridge.cli.demo_accounts import DemoLogin, seed_demo_accounts
from jirabridge.cli.demo_devlinks import seed_demo_devlinks
from jirabridge.cli.demo_reports import seed_demo_reports
from jirabridge.cli.demo_stories import DEMO_PROFILE, seed_demo_export, seed_demo_stories
from jirabridge.cli.demo_webhooks import DemoEndpoint, seed_demo_webhooks
from jirabridge.cli.demo_worklogs import seed_demo_time_records
from jirabridge.cli.serve import run_server
from jirabridge.service.settings import Settings

if TYPE_CHECKING:
    from jirabridge.sim.app import SimRuntime

__all__ = ["DemoSeeded", "demo", "register", "seed_demo"]


@dataclass(frozen=True)
class DemoSeeded:
    """What the demo's seeding made, for the banner."""

    login: DemoLogin
    stories_file: Path
    report_board: int
    endpoint: DemoEndpoint | None


async def seed_demo(settings: Settings, *, sim_url: str, sim: SimRuntime) -> DemoSeeded:
    """Everything the demo loads for the simulated site ``sim`` served at ``sim_url``: the admin
    and its connection, time records, PR links, a stories file with one finished export, a
    report board with sprint history and a webhook endpoint the simulator posts to. Idempotent:
    a restarted demo finds what it made before."""
    from jirabridge.sim.model import STATUSES

    login = await seed_demo_accounts(
        settings, sim_url=sim_url, sim_email=sim.admin_email, sim_token=sim.admin_token
    )
    issues = sorted(sim.site.issues.values(), key=lambda i: i.key)
    await seed_demo_time_records(
        settings,
        email=login.email,
        open_keys=[i.key for i in issues if i.status_id != "10002"][:3],
        closed_key=next((i.key for i in issues if i.status_id == "10002"), None),
    )
    await seed_demo_devlinks(settings, email=login.email, keys=[i.key for i in issues][:2])
    project = next(iter(sim.site.projects.values())).key
    stories_file = await seed_demo_stories(settings, email=login.email, project=project)
    await seed_demo_export(settings, email=login.email)
    # After the other seeds, which pick their issues from the seeded project by key.
    report_board = seed_demo_reports(sim.site, now=datetime.now(UTC))
    endpoint: DemoEndpoint | None = None
    if login.connection_id:
        named = {s.id: (s.name, s.category_key) for s in STATUSES}
        followed = {i.key: named[i.status_id] for i in issues[:2] if i.status_id in named}
        endpoint = await seed_demo_webhooks(
            settings, email=login.email, connection_id=login.connection_id, statuses=followed
        )
        if sim.edges is not None:
            # The simulator's admin webhook posts to the service: move an issue in the sim and
            # watch its badge on /events change.
            sim.edges.webhooks.add_admin(
                name="jirabridge demo",
                url=endpoint.url,
                events=["jira:issue_updated", "jira:issue_created", "worklog_updated"],
                secret=endpoint.secret,
            )
    return DemoSeeded(login, stories_file, report_board, endpoint)


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
        seeded = asyncio.run(seed_demo(settings, sim_url=sim_url, sim=sim))
        login, stories_file, endpoint = seeded.login, seeded.stories_file, seeded.endpoint
        url = f"http://{settings.host}:{settings.port}/"
        console.rule("Jirabridge demo")
        console.print(f"Service:   [bold]{url}[/bold]")
        console.print(f"Log in:    [bold]{login.email}[/bold] / [bold]{login.password}[/bold]")
        console.print(f"Simulator: {sim_url} (Jira connection: {login.message})")
        if login.connection_id:
            console.print(
                f"Reports:   {url}reports/{login.connection_id}/boards/{seeded.report_board}"
            )
        if endpoint is not None:
            console.print(f"Webhooks:  {endpoint.url} (the simulator's admin webhook posts here)")
        console.print(f"Data:      {settings.data_dir}")
        console.print(
            f"Stories:   {stories_file} (export profile '{DEMO_PROFILE}': "
            f"jirabridge export stories {stories_file.name} --profile {DEMO_PROFILE} "
            f"--user {login.email} --data-dir {settings.data_dir})"
        )
        console.print(f"           or upload it on {url}stories")
        console.print("Stop with Ctrl-C.")
        run_server(settings, workers=True)


def register(app: typer.Typer) -> None:
    """Add ``demo`` to the root CLI."""
    app.command()(demo)
