"""Schedules of the webhook feature: dynamic webhook registrations and polling watermarks.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import jirabridge.store.models

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "poll_watermarks",
        sa.Column("connection_id", sa.String(length=36), nullable=False),
        sa.Column("watermark", jirabridge.store.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column(
            "next_run_at", jirabridge.store.models.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column("last_run_at", jirabridge.store.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("updated_at", jirabridge.store.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_at", jirabridge.store.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["connection_id"],
            ["jira_connections.id"],
            name=op.f("fk_poll_watermarks_connection_id_jira_connections"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("connection_id", name=op.f("pk_poll_watermarks")),
    )
    with op.batch_alter_table("poll_watermarks", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_poll_watermarks_next_run_at"), ["next_run_at"], unique=False
        )

    op.create_table(
        "dynamic_webhooks",
        sa.Column("connection_id", sa.String(length=36), nullable=False),
        sa.Column("endpoint_id", sa.String(length=36), nullable=False),
        sa.Column("webhook_ids", sa.JSON(), nullable=False),
        sa.Column("jql_filter", sa.Text(), nullable=True),
        sa.Column("events", sa.JSON(), nullable=False),
        sa.Column("expires_at", jirabridge.store.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column(
            "next_run_at", jirabridge.store.models.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column("last_run_at", jirabridge.store.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("updated_at", jirabridge.store.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_at", jirabridge.store.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["connection_id"],
            ["jira_connections.id"],
            name=op.f("fk_dynamic_webhooks_connection_id_jira_connections"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["endpoint_id"],
            ["webhook_endpoints.id"],
            name=op.f("fk_dynamic_webhooks_endpoint_id_webhook_endpoints"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("connection_id", name=op.f("pk_dynamic_webhooks")),
    )
    with op.batch_alter_table("dynamic_webhooks", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_dynamic_webhooks_next_run_at"), ["next_run_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("dynamic_webhooks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_dynamic_webhooks_next_run_at"))

    op.drop_table("dynamic_webhooks")
    with op.batch_alter_table("poll_watermarks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_poll_watermarks_next_run_at"))

    op.drop_table("poll_watermarks")
