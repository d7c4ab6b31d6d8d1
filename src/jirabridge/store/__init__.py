"""Storage layer: database engines, the application schema, migrations and repositories.

Import from the submodules: :mod:`jirabridge.store.db` (engines, transactions),
:mod:`jirabridge.store.models` (schema), :mod:`jirabridge.store.migrations`,
:mod:`jirabridge.store.ledger` (the write ledger). Importing this package imports nothing
heavy, so the library part of Jirabridge stays usable without the ``service`` extra.
"""

__all__: list[str] = []
