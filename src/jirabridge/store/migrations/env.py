"""Alembic environment for the application tables.

Run migrations through :mod:`jirabridge.store.migrations`, which opens the connection (with
Jirabridge's engine settings) and hands it over in ``config.attributes["connection"]``.
Offline mode (``--sql``) renders SQL for the URL in ``sqlalchemy.url``.
"""

from __future__ import annotations

from typing import Any

from alembic import context
from sqlalchemy import text
from sqlalchemy.engine import Connection

from jirabridge.errors import StorageError
from jirabridge.store.migrations import target_metadata

__all__ = ["main", "run_migrations_offline", "run_migrations_online"]

# DBOS keeps its own tables in this schema (PostgreSQL) and migrates them itself.
_FOREIGN_SCHEMAS = frozenset({"dbos"})


def _include_name(name: str | None, type_: str, parent_names: Any) -> bool:
    if type_ == "schema":
        return name not in _FOREIGN_SCHEMAS
    return True


def _configure(**kwargs: Any) -> None:
    context.configure(
        target_metadata=target_metadata(),
        render_as_batch=True,
        compare_type=True,
        include_name=_include_name,
        **kwargs,
    )


def _check_foreign_keys(connection: Connection) -> None:
    # Migrations on SQLite run with foreign keys off (batch mode copies tables); check that
    # the result is still consistent before it is committed.
    problems = connection.execute(text("PRAGMA foreign_key_check")).fetchall()
    if problems:
        tables = sorted({str(row[0]) for row in problems})
        raise StorageError(f"migration left rows with broken foreign keys in: {', '.join(tables)}")


def run_migrations_online(connection: Connection) -> None:
    """Run the migrations on a connection opened by jirabridge.store.migrations."""
    # SQLite DDL is transactional once the driver's own BEGIN handling is off (as our engine
    # does), so a failed migration leaves the database as it was.
    _configure(connection=connection, transactional_ddl=True)
    with context.begin_transaction():
        context.run_migrations()
        if connection.dialect.name == "sqlite":
            _check_foreign_keys(connection)


def run_migrations_offline() -> None:
    """Render the migrations as SQL for ``sqlalchemy.url``."""
    _configure(url=context.config.get_main_option("sqlalchemy.url"), literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def main() -> None:
    """What Alembic runs: offline SQL rendering, or migrations on the connection given."""
    if context.is_offline_mode():
        run_migrations_offline()
        return
    connection = context.config.attributes.get("connection")
    if connection is None:
        raise StorageError(
            "run Jirabridge migrations through jirabridge.store.migrations "
            "(or `jirabridge db upgrade`), not the bare alembic command"
        )
    run_migrations_online(connection)


# Alembic executes this file as a script. Imported as a module of the package (by tools that
# walk every module), it must do nothing: there is no migration context then.
if __name__ != "jirabridge.store.migrations.env":
    main()
