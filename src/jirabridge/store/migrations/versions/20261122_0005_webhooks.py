"""Webhook intake and status sync: endpoints, deliveries, status links.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import jirabridge.store.models

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "status_links",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("owner_user_id", sa.String(length=36), nullable=True),
        sa.Column("owner_team_id", sa.String(length=36), nullable=True),
        sa.Column("connection_id", sa.String(length=64), nullable=False),
        sa.Column("issue_key", sa.String(length=64), nullable=False),
        sa.Column("subject_kind", sa.String(length=32), nullable=False),
        sa.Column("subject_id", sa.String(length=64), nullable=False),
        sa.Column("local_state", sa.String(length=32), nullable=False),
        sa.Column("jira_status", sa.String(length=128), nullable=True),
        sa.Column("jira_status_category", sa.String(length=32), nullable=True),
        sa.Column("synced_jira_status", sa.String(length=128), nullable=True),
        sa.Column("local_dirty", sa.Boolean(), nullable=False),
        sa.Column("conflict", sa.Text(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", jirabridge.store.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_at", jirabridge.store.models.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "(owner_user_id IS NULL) <> (owner_team_id IS NULL)",
            name=op.f("ck_status_links_exactly_one_owner"),
        ),
        sa.ForeignKeyConstraint(
            ["owner_team_id"],
            ["teams.id"],
            name=op.f("fk_status_links_owner_team_id_teams"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["owner_user_id"],
            ["users.id"],
            name=op.f("fk_status_links_owner_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_status_links")),
        sa.UniqueConstraint(
            "connection_id",
            "subject_kind",
            "subject_id",
            name=op.f("uq_status_links_connection_id_subject_kind_subject_id"),
        ),
    )
    with op.batch_alter_table("status_links", schema=None) as batch_op:
        batch_op.create_index(
            "ix_status_links_connection_id_issue_key", ["connection_id", "issue_key"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_status_links_owner_user_id"), ["owner_user_id"], unique=False
        )

    op.create_table(
        "webhook_endpoints",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("owner_user_id", sa.String(length=36), nullable=True),
        sa.Column("owner_team_id", sa.String(length=36), nullable=True),
        sa.Column("connection_id", sa.String(length=36), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("secret_ciphertext", sa.Text(), nullable=False),
        sa.Column("remote_webhook_ids", sa.JSON(), nullable=True),
        sa.Column(
            "remote_expires_at", jirabridge.store.models.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column("jql_filter", sa.Text(), nullable=True),
        sa.Column(
            "last_event_at", jirabridge.store.models.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("updated_at", jirabridge.store.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_at", jirabridge.store.models.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind IN ('admin', 'dynamic', 'github')", name=op.f("ck_webhook_endpoints_kind")
        ),
        sa.CheckConstraint(
            "source IN ('jira', 'github')", name=op.f("ck_webhook_endpoints_source")
        ),
        sa.CheckConstraint(
            "(owner_user_id IS NULL) <> (owner_team_id IS NULL)",
            name=op.f("ck_webhook_endpoints_exactly_one_owner"),
        ),
        sa.ForeignKeyConstraint(
            ["connection_id"],
            ["jira_connections.id"],
            name=op.f("fk_webhook_endpoints_connection_id_jira_connections"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["owner_team_id"],
            ["teams.id"],
            name=op.f("fk_webhook_endpoints_owner_team_id_teams"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["owner_user_id"],
            ["users.id"],
            name=op.f("fk_webhook_endpoints_owner_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_endpoints")),
    )
    with op.batch_alter_table("webhook_endpoints", schema=None) as batch_op:
        batch_op.create_index("ix_webhook_endpoints_owner_team_id", ["owner_team_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_webhook_endpoints_owner_user_id"), ["owner_user_id"], unique=False
        )

    op.create_table(
        "webhook_deliveries",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("endpoint_id", sa.String(length=36), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("delivery_id", sa.String(length=255), nullable=False),
        sa.Column("event", sa.String(length=128), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("headers", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column(
            "next_attempt_at", jirabridge.store.models.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column("lease_owner", sa.String(length=64), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column(
            "processed_at", jirabridge.store.models.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column("created_at", jirabridge.store.models.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('pending', 'done', 'dead')", name=op.f("ck_webhook_deliveries_status")
        ),
        sa.CheckConstraint(
            "attempts >= 0", name=op.f("ck_webhook_deliveries_attempts_non_negative")
        ),
        sa.ForeignKeyConstraint(
            ["endpoint_id"],
            ["webhook_endpoints.id"],
            name=op.f("fk_webhook_deliveries_endpoint_id_webhook_endpoints"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_deliveries")),
        sa.UniqueConstraint(
            "endpoint_id", "delivery_id", name=op.f("uq_webhook_deliveries_endpoint_id_delivery_id")
        ),
    )
    with op.batch_alter_table("webhook_deliveries", schema=None) as batch_op:
        batch_op.create_index(
            "ix_webhook_deliveries_status_next_attempt_at",
            ["status", "next_attempt_at"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("webhook_deliveries", schema=None) as batch_op:
        batch_op.drop_index("ix_webhook_deliveries_status_next_attempt_at")

    op.drop_table("webhook_deliveries")
    with op.batch_alter_table("webhook_endpoints", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_webhook_endpoints_owner_user_id"))
        batch_op.drop_index("ix_webhook_endpoints_owner_team_id")

    op.drop_table("webhook_endpoints")
    with op.batch_alter_table("status_links", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_status_links_owner_user_id"))
        batch_op.drop_index("ix_status_links_connection_id_issue_key")

    op.drop_table("status_links")
