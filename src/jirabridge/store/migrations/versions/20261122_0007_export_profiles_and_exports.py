"""Stories export: export profiles, exports and their items (exportcore).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import jirabridge.store.models

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "story_exports",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("owner_user_id", sa.String(length=36), nullable=True),
        sa.Column("owner_team_id", sa.String(length=36), nullable=True),
        sa.Column("actor_user_id", sa.String(length=36), nullable=True),
        sa.Column("connection_id", sa.String(length=36), nullable=True),
        sa.Column("site", sa.String(length=512), nullable=False),
        sa.Column("base_url", sa.String(length=2048), nullable=False),
        sa.Column("profile_id", sa.String(length=36), nullable=True),
        sa.Column("profile_name", sa.String(length=80), nullable=False),
        sa.Column("file_name", sa.String(length=255), nullable=False),
        sa.Column("file_hash", sa.String(length=64), nullable=False),
        sa.Column("plan_id", sa.String(length=64), nullable=False),
        sa.Column("plan", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("counts", sa.JSON(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("started_at", jirabridge.store.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("finished_at", jirabridge.store.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("rollback", sa.JSON(), nullable=True),
        sa.Column("updated_at", jirabridge.store.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_at", jirabridge.store.models.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "(owner_user_id IS NULL) <> (owner_team_id IS NULL)",
            name=op.f("ck_story_exports_exactly_one_owner"),
        ),
        sa.ForeignKeyConstraint(
            ["owner_team_id"],
            ["teams.id"],
            name=op.f("fk_story_exports_owner_team_id_teams"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["owner_user_id"],
            ["users.id"],
            name=op.f("fk_story_exports_owner_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_story_exports")),
    )
    with op.batch_alter_table("story_exports", schema=None) as batch_op:
        batch_op.create_index(
            "ix_story_exports_owner_created", ["owner_user_id", "created_at"], unique=False
        )
        batch_op.create_index("ix_story_exports_owner_team_id", ["owner_team_id"], unique=False)

    op.create_table(
        "export_profiles",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("owner_user_id", sa.String(length=36), nullable=True),
        sa.Column("owner_team_id", sa.String(length=36), nullable=True),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("connection_id", sa.String(length=36), nullable=True),
        sa.Column("settings", sa.JSON(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", jirabridge.store.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_at", jirabridge.store.models.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "(owner_user_id IS NULL) <> (owner_team_id IS NULL)",
            name=op.f("ck_export_profiles_exactly_one_owner"),
        ),
        sa.ForeignKeyConstraint(
            ["connection_id"],
            ["jira_connections.id"],
            name=op.f("fk_export_profiles_connection_id_jira_connections"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["owner_team_id"],
            ["teams.id"],
            name=op.f("fk_export_profiles_owner_team_id_teams"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["owner_user_id"],
            ["users.id"],
            name=op.f("fk_export_profiles_owner_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_export_profiles")),
        sa.UniqueConstraint("owner_user_id", "name", name="owner_name"),
    )
    with op.batch_alter_table("export_profiles", schema=None) as batch_op:
        batch_op.create_index("ix_export_profiles_owner_team_id", ["owner_team_id"], unique=False)

    op.create_table(
        "story_export_items",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("export_id", sa.String(length=36), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.String(length=200), nullable=False),
        sa.Column("level", sa.String(length=8), nullable=False),
        sa.Column("summary", sa.String(length=512), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("jira_key", sa.String(length=64), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("jira_status", sa.String(length=128), nullable=True),
        sa.Column(
            "status_checked_at", jirabridge.store.models.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column("rollback", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "outcome IN ('pending', 'created', 'updated', 'skipped', 'failed', 'unknown')",
            name=op.f("ck_story_export_items_outcome"),
        ),
        sa.ForeignKeyConstraint(
            ["export_id"],
            ["story_exports.id"],
            name=op.f("fk_story_export_items_export_id_story_exports"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_story_export_items")),
        sa.UniqueConstraint("export_id", "item_id", name="export_item"),
    )


def downgrade() -> None:
    op.drop_table("story_export_items")
    with op.batch_alter_table("export_profiles", schema=None) as batch_op:
        batch_op.drop_index("ix_export_profiles_owner_team_id")

    op.drop_table("export_profiles")
    with op.batch_alter_table("story_exports", schema=None) as batch_op:
        batch_op.drop_index("ix_story_exports_owner_team_id")
        batch_op.drop_index("ix_story_exports_owner_created")

    op.drop_table("story_exports")
