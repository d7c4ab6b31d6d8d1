"""Write ledger: the record of every write we make to Jira.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import jirabridge.store.models

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "write_ledger",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("site", sa.String(length=255), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("external_id", sa.String(length=255), nullable=False),
        sa.Column("operation", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("remote_id", sa.String(length=255), nullable=True),
        sa.Column("target", sa.String(length=255), nullable=True),
        sa.Column("fingerprint", sa.String(length=128), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", jirabridge.store.models.UTCDateTime(), nullable=False),
        sa.Column("updated_at", jirabridge.store.models.UTCDateTime(), nullable=False),
        sa.CheckConstraint(
            "state IN ('planned', 'sent', 'confirmed', 'failed')",
            name=op.f("ck_write_ledger_state"),
        ),
        sa.CheckConstraint(
            "operation IN ('create', 'update', 'delete')",
            name=op.f("ck_write_ledger_operation"),
        ),
        sa.CheckConstraint("attempts >= 0", name=op.f("ck_write_ledger_attempts_non_negative")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_write_ledger")),
        sa.UniqueConstraint(
            "site", "kind", "external_id", name=op.f("uq_write_ledger_site_kind_external_id")
        ),
    )
    with op.batch_alter_table("write_ledger", schema=None) as batch_op:
        batch_op.create_index(
            "ix_write_ledger_site_kind_remote_id", ["site", "kind", "remote_id"], unique=False
        )
        batch_op.create_index(
            "ix_write_ledger_state_updated_at", ["state", "updated_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("write_ledger", schema=None) as batch_op:
        batch_op.drop_index("ix_write_ledger_state_updated_at")
        batch_op.drop_index("ix_write_ledger_site_kind_remote_id")
    op.drop_table("write_ledger")
