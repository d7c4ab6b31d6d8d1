"""Time records, worklog sync runs, pull-back cursors and the log of worklog sync attempts.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 03:34:59.086394
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import jirabridge.store.models

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "worklog_pull_cursors",
        sa.Column("connection_id", sa.String(length=36), nullable=False),
        sa.Column("cursor", jirabridge.store.models.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("connection_id", name=op.f("pk_worklog_pull_cursors")),
    )
    op.create_table(
        "worklog_sync_attempts",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("record_id", sa.String(length=36), nullable=False),
        sa.Column("owner_user_id", sa.String(length=36), nullable=True),
        sa.Column("owner_team_id", sa.String(length=36), nullable=True),
        sa.Column("run_id", sa.String(length=100), nullable=True),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("worklog_id", sa.String(length=64), nullable=True),
        sa.Column("actor_user_id", sa.String(length=36), nullable=True),
        sa.Column("created_at", jirabridge.store.models.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_worklog_sync_attempts")),
    )
    with op.batch_alter_table("worklog_sync_attempts", schema=None) as batch_op:
        batch_op.create_index("ix_worklog_sync_attempts_record_id", ["record_id"], unique=False)
        batch_op.create_index("ix_worklog_sync_attempts_run_id", ["run_id"], unique=False)

    op.create_table(
        "worklog_sync_runs",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("owner_user_id", sa.String(length=36), nullable=True),
        sa.Column("owner_team_id", sa.String(length=36), nullable=True),
        sa.Column("connection_id", sa.String(length=36), nullable=True),
        sa.Column("actor_user_id", sa.String(length=36), nullable=True),
        sa.Column("record_ids", sa.JSON(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=True),
        sa.Column("finished_at", jirabridge.store.models.UTCDateTime(), nullable=True),
        sa.Column("updated_at", jirabridge.store.models.UTCDateTime(), nullable=False),
        sa.Column("created_at", jirabridge.store.models.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_worklog_sync_runs")),
    )
    op.create_table(
        "time_records",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("owner_user_id", sa.String(length=36), nullable=True),
        sa.Column("owner_team_id", sa.String(length=36), nullable=True),
        sa.Column("connection_id", sa.String(length=36), nullable=True),
        sa.Column("started_at", jirabridge.store.models.UTCDateTime(), nullable=False),
        sa.Column("time_zone", sa.String(length=64), nullable=False),
        sa.Column("ended_at", jirabridge.store.models.UTCDateTime(), nullable=True),
        sa.Column("duration_seconds", sa.Integer(), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("external_link", sa.String(length=2048), nullable=True),
        sa.Column("issue_key", sa.String(length=64), nullable=True),
        sa.Column("deleted_at", jirabridge.store.models.UTCDateTime(), nullable=True),
        sa.Column("worklog_id", sa.String(length=64), nullable=True),
        sa.Column("sync_state", sa.String(length=16), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("last_synced_at", jirabridge.store.models.UTCDateTime(), nullable=True),
        sa.Column("synced_issue_key", sa.String(length=64), nullable=True),
        sa.Column("synced_fingerprint", sa.String(length=64), nullable=True),
        sa.Column("conflict", sa.JSON(), nullable=True),
        sa.Column("updated_at", jirabridge.store.models.UTCDateTime(), nullable=False),
        sa.Column("created_at", jirabridge.store.models.UTCDateTime(), nullable=False),
        sa.CheckConstraint(
            "sync_state IN ('not-synced', 'pending', 'synced', 'error', 'conflict')",
            name=op.f("ck_time_records_sync_state"),
        ),
        sa.CheckConstraint(
            "(owner_user_id IS NULL) <> (owner_team_id IS NULL)",
            name=op.f("ck_time_records_exactly_one_owner"),
        ),
        sa.CheckConstraint(
            "duration_seconds >= 0", name=op.f("ck_time_records_duration_non_negative")
        ),
        sa.ForeignKeyConstraint(
            ["connection_id"],
            ["jira_connections.id"],
            name=op.f("fk_time_records_connection_id_jira_connections"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["owner_team_id"],
            ["teams.id"],
            name=op.f("fk_time_records_owner_team_id_teams"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["owner_user_id"],
            ["users.id"],
            name=op.f("fk_time_records_owner_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_time_records")),
    )
    with op.batch_alter_table("time_records", schema=None) as batch_op:
        batch_op.create_index(
            "ix_time_records_owner_started",
            ["owner_user_id", "owner_team_id", "started_at"],
            unique=False,
        )


def downgrade() -> None:

    with op.batch_alter_table("time_records", schema=None) as batch_op:
        batch_op.drop_index("ix_time_records_owner_started")

    op.drop_table("time_records")
    op.drop_table("worklog_sync_runs")
    with op.batch_alter_table("worklog_sync_attempts", schema=None) as batch_op:
        batch_op.drop_index("ix_worklog_sync_attempts_run_id")
        batch_op.drop_index("ix_worklog_sync_attempts_record_id")

    op.drop_table("worklog_sync_attempts")
    op.drop_table("worklog_pull_cursors")
