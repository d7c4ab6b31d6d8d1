"""Schema migrations of the application tables (Alembic, shipped inside the package).

The scripts live next to this module and are found through :mod:`importlib.resources`, so an
installed wheel can migrate its database without a source checkout or an ``alembic.ini``.

Each operation has a blocking form (for the CLI) and an ``_async`` form (for code already
running in an event loop, such as the app's lifespan)::

    upgrade("sqlite:///data/app.db")             # to the newest revision
    await check_at_head_async(url)               # raises StorageError when behind

Migrations use the same engine settings as the app (:func:`jirabridge.store.db.make_engine`),
except that SQLite foreign keys are off while tables are rebuilt and checked at the end.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import importlib
from collections.abc import Callable, Coroutine
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import MetaData
from sqlalchemy.engine import Connection
from sqlalchemy.exc import InterfaceError, OperationalError

from jirabridge.errors import ConfigError, StorageError
from jirabridge.store.db import make_engine, normalize_url, redact_url
from jirabridge.store.models import Base

__all__ = [
    "MODEL_MODULES",
    "alembic_config",
    "check_at_head",
    "check_at_head_async",
    "current",
    "current_async",
    "downgrade",
    "downgrade_async",
    "heads",
    "is_at_head",
    "is_at_head_async",
    "target_metadata",
    "upgrade",
    "upgrade_async",
]

_T = TypeVar("_T")

#: Every module that defines table models. The migrations (and the test that keeps models and
#: migrations in step) see exactly the tables these modules declare: add yours here.
MODEL_MODULES: tuple[str, ...] = (
    "jirabridge.store.models",
    "jirabridge.store.account_models",
    "jirabridge.store.devlink_models",
    "jirabridge.store.report_cache_models",
    "jirabridge.store.export_models",
    "jirabridge.store.webhook_models",
    "jirabridge.store.worklog_models",
)


def target_metadata() -> MetaData:
    """The metadata of every application table (imports :data:`MODEL_MODULES`)."""
    for module in MODEL_MODULES:
        importlib.import_module(module)
    return Base.metadata


def _script_location() -> str:
    location = resources.files(__name__)
    if not isinstance(location, Path):
        raise ConfigError(
            "Jirabridge's migration scripts are not on the file system "
            "(installed as a zip?); install the package unpacked"
        )
    return str(location)


def alembic_config(url: str) -> Config:
    """An Alembic :class:`~alembic.config.Config` for ``url`` and the packaged scripts.

    For Alembic commands not wrapped here (``history``, ``revision --autogenerate``...):
    open a connection, put it in ``config.attributes["connection"]`` and call
    :mod:`alembic.command` from :meth:`~sqlalchemy.ext.asyncio.AsyncConnection.run_sync`.
    """
    config = Config()
    config.set_main_option("script_location", _script_location())
    # ConfigParser interpolation treats % specially: escape it in passwords.
    config.set_main_option("sqlalchemy.url", normalize_url(url).replace("%", "%%"))
    config.set_main_option("file_template", "%%(year)d%%(month).2d%%(day).2d_%%(rev)s_%%(slug)s")
    return config


def heads() -> tuple[str, ...]:
    """The newest revision(s) the packaged scripts define (normally exactly one)."""
    return tuple(ScriptDirectory.from_config(alembic_config("sqlite:///unused.db")).get_heads())


async def _with_connection(
    url: str, action: str, work: Callable[[Connection], _T], *, foreign_keys: bool
) -> _T:
    engine = make_engine(url, foreign_keys=foreign_keys)
    try:
        async with engine.connect() as connection:
            result = await connection.run_sync(work)
            await connection.commit()
            return result
    except (OperationalError, InterfaceError, OSError) as exc:
        raise StorageError(
            f"could not {action} database {redact_url(url)}: {type(exc).__name__}",
            details={"database": redact_url(url)},
        ) from exc
    finally:
        await engine.dispose()


async def upgrade_async(url: str, revision: str = "head") -> None:
    """Migrate the database at ``url`` up to ``revision`` (default: the newest)."""
    config = alembic_config(url)

    def work(connection: Connection) -> None:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)

    await _with_connection(url, "migrate", work, foreign_keys=False)


async def downgrade_async(url: str, revision: str) -> None:
    """Migrate the database at ``url`` down to ``revision`` (``"base"`` empties it)."""
    config = alembic_config(url)

    def work(connection: Connection) -> None:
        config.attributes["connection"] = connection
        command.downgrade(config, revision)

    await _with_connection(url, "migrate", work, foreign_keys=False)


async def current_async(url: str) -> str | None:
    """The revision the database is at, or ``None`` if it was never migrated."""

    def work(connection: Connection) -> str | None:
        return MigrationContext.configure(connection).get_current_revision()

    return await _with_connection(url, "read the schema version of", work, foreign_keys=True)


async def is_at_head_async(url: str) -> bool:
    """Whether the database is migrated to the newest revision."""
    return await current_async(url) in heads()


async def check_at_head_async(url: str) -> None:
    """Raise :class:`~jirabridge.errors.StorageError` unless the database is fully migrated."""
    expected = heads()
    at = await current_async(url)
    if at not in expected:
        raise StorageError(
            f"database schema is at revision {at or 'none (empty database)'}, but this "
            f"version of Jirabridge needs {', '.join(expected)}; run `jirabridge db upgrade`",
            details={"current": at, "expected": list(expected)},
        )


def _run_blocking(make: Callable[[], Coroutine[Any, Any, _T]]) -> _T:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(make())
    # Called from inside a running loop (e.g. a sync helper in async code): asyncio.run
    # cannot nest, so run on a fresh loop in a worker thread and wait for it.
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, make()).result()


def upgrade(url: str, revision: str = "head") -> None:
    """Blocking form of :func:`upgrade_async`."""
    _run_blocking(lambda: upgrade_async(url, revision))


def downgrade(url: str, revision: str) -> None:
    """Blocking form of :func:`downgrade_async`."""
    _run_blocking(lambda: downgrade_async(url, revision))


def current(url: str) -> str | None:
    """Blocking form of :func:`current_async`."""
    return _run_blocking(lambda: current_async(url))


def is_at_head(url: str) -> bool:
    """Blocking form of :func:`is_at_head_async`."""
    return _run_blocking(lambda: is_at_head_async(url))


def check_at_head(url: str) -> None:
    """Blocking form of :func:`check_at_head_async`."""
    _run_blocking(lambda: check_at_head_async(url))
