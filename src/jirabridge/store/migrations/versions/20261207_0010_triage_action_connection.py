"""Triage action log: the GitHub connection whose rules made each entry.

The log was per owner only, so a team with several connections could not tell which
connection's rules acted. Older entries keep a NULL connection. No foreign key: the log is an
audit trail and outlives a removed connection.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("triage_actions") as batch_op:
        batch_op.add_column(sa.Column("github_connection_id", sa.String(length=36), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("triage_actions") as batch_op:
        batch_op.drop_column("github_connection_id")
