"""The ``jirabridge`` command line."""

from __future__ import annotations

import typer

from jirabridge import __version__

app = typer.Typer(
    name="jirabridge",
    help="Keep your data and Jira in step.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"jirabridge {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Jirabridge: Jira sync service, simulator and tools."""


def _register_commands() -> None:
    # One line per command group; each module adds its own commands.
    from jirabridge.cli import (
        connections,
        db,
        demo,
        devlinks,
        export,
        github,
        maintenance,
        report,
        secrets,
        serve,
        sim,
        users,
        webhooks,
        worklogs,
    )

    serve.register(app)
    db.register(app)
    demo.register(app)
    sim.register(app)
    users.register(app)
    connections.register(app)
    secrets.register(app)
    webhooks.register(app)
    worklogs.register(app)
    export.register(app)
    devlinks.register(app)
    github.register(app)
    report.register(app)
    maintenance.register(app)


_register_commands()


def main() -> None:
    """Console-script entry point."""
    app()
