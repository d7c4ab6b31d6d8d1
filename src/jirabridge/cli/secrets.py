"""``jirabridge secrets``: encryption keys of stored Jira secrets."""

from __future__ import annotations

import asyncio

import typer

from jirabridge.cli.accounts_common import accounts_context
from jirabridge.cli.common import ConfigOpt, DataDirOpt, build_settings, console, handle_errors
from jirabridge.service.connections import rotate_all_secrets
from jirabridge.store.secrets import generate_key

app = typer.Typer(help="Encryption keys of stored secrets.", no_args_is_help=True)


@app.command("generate-key")
def generate_key_() -> None:
    """Print a new key. Put it first in JIRABRIDGE_ENCRYPTION_KEYS, then run `rotate`."""
    typer.echo(generate_key())


@app.command("rotate")
@handle_errors
def rotate(data_dir: DataDirOpt = None, config: ConfigOpt = None) -> None:
    """Re-encrypt every stored secret under the newest key (all or nothing).

    Steps: generate a key, put it first in JIRABRIDGE_ENCRYPTION_KEYS (keep the old ones after
    it), run this, then drop the old keys.
    """
    settings = build_settings(config=config, data_dir=data_dir)

    async def run() -> int:
        async with accounts_context(settings) as ctx:
            return await rotate_all_secrets(ctx.sessions, ctx.secrets)

    count = asyncio.run(run())
    console.print(f"re-encrypted {count} secrets under the newest key")


def register(root: typer.Typer) -> None:
    """Add ``secrets`` to the root CLI."""
    root.add_typer(app, name="secrets")
