"""What every command shares: settings from options; errors as a sentence and an exit code."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, ParamSpec, TypeVar

import typer
from rich.console import Console

from jirabridge.errors import ConfigError, JirabridgeError, StorageError, TransportError
from jirabridge.service.settings import Settings, load_settings

__all__ = [
    "EXIT_CONFIG",
    "EXIT_ERROR",
    "EXIT_UNAVAILABLE",
    "ConfigOpt",
    "DataDirOpt",
    "DatabaseUrlOpt",
    "build_settings",
    "console",
    "err_console",
    "handle_errors",
]

console = Console()
err_console = Console(stderr=True)

EXIT_ERROR = 1
# 2 is what Typer/Click use for bad arguments.
EXIT_CONFIG = 3
EXIT_UNAVAILABLE = 4

DataDirOpt = Annotated[
    Path | None,
    typer.Option("--data-dir", help="Where the SQLite files live.", envvar="JIRABRIDGE_DATA_DIR"),
]
ConfigOpt = Annotated[
    Path | None,
    typer.Option("--config", help="A TOML settings file.", envvar="JIRABRIDGE_CONFIG"),
]
DatabaseUrlOpt = Annotated[
    str | None,
    typer.Option(
        "--database-url", help="SQLAlchemy database URL.", envvar="JIRABRIDGE_DATABASE_URL"
    ),
]


def build_settings(
    *, config: Path | None = None, data_dir: Path | None = None, **overrides: Any
) -> Settings:
    """Settings from the environment and file, with the options given on the command line."""
    given = {k: v for k, v in overrides.items() if v is not None}
    if data_dir is not None:
        given["data_dir"] = data_dir
    return load_settings(config, **given)


P = ParamSpec("P")
R = TypeVar("R")


def handle_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Turn our errors into one readable line on stderr and a meaningful exit code."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except ConfigError as exc:
            err_console.print(f"[red]Configuration error:[/red] {exc.message}")
            raise typer.Exit(EXIT_CONFIG) from None
        except (StorageError, TransportError) as exc:
            err_console.print(f"[red]Unavailable:[/red] {exc.message}")
            raise typer.Exit(EXIT_UNAVAILABLE) from None
        except JirabridgeError as exc:
            err_console.print(f"[red]Error:[/red] {exc.message}")
            raise typer.Exit(EXIT_ERROR) from None

    return wrapper
