"""Sprint-report cache in the database: boards and their issues.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import jirabridge.store.models

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "report_cache_boards",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("site", sa.String(length=255), nullable=False),
        sa.Column("board_id", sa.BigInteger(), nullable=False),
        sa.Column("meta", sa.JSON(), nullable=False),
        sa.Column("updated_at", jirabridge.store.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_at", jirabridge.store.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_cache_boards")),
        sa.UniqueConstraint("site", "board_id", name=op.f("uq_report_cache_boards_site_board_id")),
    )
    op.create_table(
        "report_cache_issues",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "board_row_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("issue_key", sa.String(length=64), nullable=False),
        sa.Column("issue_id", sa.String(length=32), nullable=True),
        sa.Column(
            "jira_updated", jirabridge.store.models.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column("raw", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["board_row_id"],
            ["report_cache_boards.id"],
            name=op.f("fk_report_cache_issues_board_row_id_report_cache_boards"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_cache_issues")),
        sa.UniqueConstraint(
            "board_row_id", "issue_key", name=op.f("uq_report_cache_issues_board_row_id_issue_key")
        ),
    )
    op.create_index(
        "ix_report_cache_issues_board_row_id_issue_id",
        "report_cache_issues",
        ["board_row_id", "issue_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_report_cache_issues_board_row_id_issue_id", table_name="report_cache_issues")
    op.drop_table("report_cache_issues")
    op.drop_table("report_cache_boards")
