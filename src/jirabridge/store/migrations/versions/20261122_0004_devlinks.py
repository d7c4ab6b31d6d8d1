"""GitHub and Jira together: issue links, Smart Commit results, backfill cursors, triage log.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import jirabridge.store.models

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "github_connections",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("owner_key", sa.String(length=48), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("app_id", sa.String(length=32), nullable=True),
        sa.Column("installation_id", sa.String(length=32), nullable=True),
        sa.Column("secret_ciphertext", sa.Text(), nullable=False),
        sa.Column("webhook_secret_ciphertext", sa.Text(), nullable=False),
        sa.Column("repos", sa.JSON(), nullable=False),
        sa.Column("project_keys", sa.JSON(), nullable=False),
        sa.Column("triage_label", sa.String(length=100), nullable=True),
        sa.Column("updated_at", jirabridge.store.models.UTCDateTime(), nullable=False),
        sa.Column("created_at", jirabridge.store.models.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_github_connections")),
    )
    with op.batch_alter_table("github_connections", schema=None) as batch_op:
        batch_op.create_index("ix_github_connections_owner", ["owner_key"], unique=False)
    op.create_table(
        "backfill_cursors",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("owner_key", sa.String(length=48), nullable=False),
        sa.Column("repo", sa.String(length=255), nullable=False),
        sa.Column("last_number", sa.Integer(), nullable=False),
        sa.Column("processed", sa.Integer(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("done", sa.Boolean(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("updated_at", jirabridge.store.models.UTCDateTime(), nullable=False),
        sa.Column("created_at", jirabridge.store.models.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_backfill_cursors")),
        sa.UniqueConstraint("owner_key", "repo", name=op.f("uq_backfill_cursors_owner_key_repo")),
    )
    op.create_table(
        "dev_links",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("owner_key", sa.String(length=48), nullable=False),
        sa.Column("issue_key", sa.String(length=255), nullable=False),
        sa.Column("repo", sa.String(length=255), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("ref", sa.String(length=64), nullable=False),
        sa.Column("found_in", sa.JSON(), nullable=False),
        sa.Column("url", sa.String(length=2048), nullable=True),
        sa.Column("title", sa.Text(), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=True),
        sa.Column("updated_at", jirabridge.store.models.UTCDateTime(), nullable=False),
        sa.Column("created_at", jirabridge.store.models.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dev_links")),
        sa.UniqueConstraint(
            "owner_key",
            "issue_key",
            "repo",
            "kind",
            "ref",
            name=op.f("uq_dev_links_owner_key_issue_key_repo_kind_ref"),
        ),
    )
    with op.batch_alter_table("dev_links", schema=None) as batch_op:
        batch_op.create_index("ix_dev_links_owner_repo", ["owner_key", "repo"], unique=False)
    op.create_table(
        "smart_commit_results",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("owner_key", sa.String(length=48), nullable=False),
        sa.Column("repo", sa.String(length=255), nullable=False),
        sa.Column("sha", sa.String(length=64), nullable=False),
        sa.Column("external_id", sa.String(length=255), nullable=False),
        sa.Column("issue_key", sa.String(length=255), nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("updated_at", jirabridge.store.models.UTCDateTime(), nullable=False),
        sa.Column("created_at", jirabridge.store.models.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_smart_commit_results")),
        sa.UniqueConstraint(
            "owner_key", "external_id", name=op.f("uq_smart_commit_results_owner_key_external_id")
        ),
    )
    with op.batch_alter_table("smart_commit_results", schema=None) as batch_op:
        batch_op.create_index(
            "ix_smart_commit_results_owner_sha", ["owner_key", "sha"], unique=False
        )
    op.create_table(
        "triage_actions",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("owner_key", sa.String(length=48), nullable=False),
        sa.Column("bug_source", sa.String(length=16), nullable=False),
        sa.Column("bug_ref", sa.String(length=255), nullable=False),
        sa.Column("rule", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("created_at", jirabridge.store.models.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_triage_actions")),
    )
    with op.batch_alter_table("triage_actions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_triage_actions_owner_created", ["owner_key", "created_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("github_connections", schema=None) as batch_op:
        batch_op.drop_index("ix_github_connections_owner")
    op.drop_table("github_connections")
    with op.batch_alter_table("triage_actions", schema=None) as batch_op:
        batch_op.drop_index("ix_triage_actions_owner_created")
    op.drop_table("triage_actions")
    with op.batch_alter_table("smart_commit_results", schema=None) as batch_op:
        batch_op.drop_index("ix_smart_commit_results_owner_sha")
    op.drop_table("smart_commit_results")
    with op.batch_alter_table("dev_links", schema=None) as batch_op:
        batch_op.drop_index("ix_dev_links_owner_repo")
    op.drop_table("dev_links")
    op.drop_table("backfill_cursors")
