"""``jirabridge demo``: the front door — the service on SQLite with sample data, URL and login."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from jirabridge.cli.common import build_settings, console, handle_errors
from jirabridge.cli.serve import run_server

__all__ = ["demo", "register"]


@handle_errors
def demo(
    port: Annotated[int, typer.Option(help="Port of the service.", min=1, max=65535)] = 8080,
    data_dir: Annotated[
        Path, typer.Option("--data-dir", help="Where the demo keeps its files.")
    ] = Path(".demo"),
) -> None:
    """Run the service on SQLite in a local folder, and print where to open it."""
    settings = build_settings(
        data_dir=data_dir.resolve(),
        port=port,
        environment="development",
        allow_private_jira_urls=True,
    )
    url = f"http://{settings.host}:{settings.port}/"
    console.rule("Jirabridge demo")
    console.print(f"Service:   [bold]{url}[/bold]")
    console.print(f"Data:      {settings.data_dir}")
    console.print("Stop with Ctrl-C.")
    run_server(settings, workers=True)


def register(app: typer.Typer) -> None:
    """Add ``demo`` to the root CLI."""
    app.command()(demo)
