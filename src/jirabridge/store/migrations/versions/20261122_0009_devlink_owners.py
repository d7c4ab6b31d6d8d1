"""GitHub-and-Jira tables: owner foreign keys instead of ``owner_key``; backfill runs.

``owner_key`` (``user:<id>`` / ``team:<id>``) becomes ``owner_user_id`` / ``owner_team_id``
with cascading foreign keys and an exactly-one-owner check, like the Jira connections. Rows
keep their data; a row whose owner no longer exists (possible before, with no foreign key)
cannot satisfy the new key and is removed. GitHub connections gain the Jira connection they
write to and their webhook endpoint; ``backfill_runs`` records backfill requests.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import jirabridge.store.models

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ONE_OWNER = "(owner_user_id IS NULL) <> (owner_team_id IS NULL)"

#: table -> (old indexes, old unique constraints, new index columns after the owner, unique?)
_TABLES: dict[str, tuple[list[str], list[str], list[str], bool]] = {
    "dev_links": (
        ["ix_dev_links_owner_repo"],
        ["uq_dev_links_owner_key_issue_key_repo_kind_ref"],
        ["issue_key", "repo", "kind", "ref"],
        True,
    ),
    "smart_commit_results": (
        ["ix_smart_commit_results_owner_sha"],
        ["uq_smart_commit_results_owner_key_external_id"],
        ["external_id"],
        True,
    ),
    "backfill_cursors": ([], ["uq_backfill_cursors_owner_key_repo"], ["repo"], True),
    "triage_actions": (["ix_triage_actions_owner_created"], [], ["created_at"], False),
    "github_connections": (["ix_github_connections_owner"], [], ["name"], False),
}


def _owned(table: str) -> sa.TableClause:
    return sa.table(
        table,
        sa.column("owner_key", sa.String),
        sa.column("owner_user_id", sa.String),
        sa.column("owner_team_id", sa.String),
    )


def _owner_indexes(batch_op: object, table: str, columns: list[str], unique: bool) -> None:
    for kind in ("user", "team"):
        column = f"owner_{kind}_id"
        where = sa.text(f"{column} IS NOT NULL")
        batch_op.create_index(  # type: ignore[attr-defined]
            f"{'uq' if unique else 'ix'}_{table}_{kind}",
            [column, *columns],
            unique=unique,
            sqlite_where=where,
            postgresql_where=where,
        )


def upgrade() -> None:
    for table, (old_indexes, old_uniques, columns, unique) in _TABLES.items():
        op.add_column(table, sa.Column("owner_user_id", sa.String(length=36), nullable=True))
        op.add_column(table, sa.Column("owner_team_id", sa.String(length=36), nullable=True))
        rows = _owned(table)
        op.execute(
            rows.update()
            .where(rows.c.owner_key.like("user:%"))
            .values(owner_user_id=sa.func.substr(rows.c.owner_key, 6))
        )
        op.execute(
            rows.update()
            .where(rows.c.owner_key.like("team:%"))
            .values(owner_team_id=sa.func.substr(rows.c.owner_key, 6))
        )
        users = sa.table("users", sa.column("id", sa.String))
        teams = sa.table("teams", sa.column("id", sa.String))
        op.execute(
            rows.delete().where(
                sa.func.coalesce(rows.c.owner_user_id, "").not_in(sa.select(users.c.id)),
                sa.func.coalesce(rows.c.owner_team_id, "").not_in(sa.select(teams.c.id)),
            )
        )
        with op.batch_alter_table(table, schema=None) as batch_op:
            for name in old_indexes:
                batch_op.drop_index(name)
            for name in old_uniques:
                batch_op.drop_constraint(name, type_="unique")
            batch_op.drop_column("owner_key")
            batch_op.create_foreign_key(
                batch_op.f(f"fk_{table}_owner_user_id_users"),
                "users",
                ["owner_user_id"],
                ["id"],
                ondelete="CASCADE",
            )
            batch_op.create_foreign_key(
                batch_op.f(f"fk_{table}_owner_team_id_teams"),
                "teams",
                ["owner_team_id"],
                ["id"],
                ondelete="CASCADE",
            )
            batch_op.create_check_constraint(
                batch_op.f(f"ck_{table}_exactly_one_owner"), sa.text(_ONE_OWNER)
            )
            if table == "github_connections":
                batch_op.add_column(
                    sa.Column("jira_connection_id", sa.String(length=36), nullable=True)
                )
                batch_op.add_column(
                    sa.Column("webhook_endpoint_id", sa.String(length=36), nullable=True)
                )
                batch_op.add_column(sa.Column("triage_rules", sa.Text(), nullable=True))
                batch_op.create_foreign_key(
                    batch_op.f("fk_github_connections_jira_connection_id_jira_connections"),
                    "jira_connections",
                    ["jira_connection_id"],
                    ["id"],
                    ondelete="SET NULL",
                )
                batch_op.create_foreign_key(
                    batch_op.f("fk_github_connections_webhook_endpoint_id_webhook_endpoints"),
                    "webhook_endpoints",
                    ["webhook_endpoint_id"],
                    ["id"],
                    ondelete="SET NULL",
                )
            if table == "dev_links":
                batch_op.create_index("ix_dev_links_repo", ["repo"], unique=False)
            if table == "smart_commit_results":
                batch_op.create_index("ix_smart_commit_results_sha", ["sha"], unique=False)
            _owner_indexes(batch_op, table, columns, unique)

    op.create_table(
        "backfill_runs",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("connection_id", sa.String(length=36), nullable=False),
        sa.Column("repos", sa.JSON(), nullable=False),
        sa.Column("months", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("report", sa.JSON(), nullable=True),
        sa.Column("finished_at", jirabridge.store.models.UTCDateTime(), nullable=True),
        sa.Column("owner_user_id", sa.String(length=36), nullable=True),
        sa.Column("owner_team_id", sa.String(length=36), nullable=True),
        sa.Column("updated_at", jirabridge.store.models.UTCDateTime(), nullable=False),
        sa.Column("created_at", jirabridge.store.models.UTCDateTime(), nullable=False),
        sa.CheckConstraint(_ONE_OWNER, name=op.f("ck_backfill_runs_exactly_one_owner")),
        sa.ForeignKeyConstraint(
            ["connection_id"],
            ["github_connections.id"],
            name=op.f("fk_backfill_runs_connection_id_github_connections"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["owner_team_id"],
            ["teams.id"],
            name=op.f("fk_backfill_runs_owner_team_id_teams"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["owner_user_id"],
            ["users.id"],
            name=op.f("fk_backfill_runs_owner_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_backfill_runs")),
    )
    with op.batch_alter_table("backfill_runs", schema=None) as batch_op:
        _owner_indexes(batch_op, "backfill_runs", ["created_at"], False)


def downgrade() -> None:
    op.drop_table("backfill_runs")
    for table, (old_indexes, old_uniques, columns, unique) in _TABLES.items():
        op.add_column(table, sa.Column("owner_key", sa.String(length=48), nullable=True))
        rows = _owned(table)
        op.execute(
            rows.update().values(
                owner_key=sa.case(
                    (rows.c.owner_team_id.is_not(None), sa.literal("team:") + rows.c.owner_team_id),
                    else_=sa.literal("user:") + rows.c.owner_user_id,
                )
            )
        )
        with op.batch_alter_table(table, schema=None) as batch_op:
            for kind in ("user", "team"):
                batch_op.drop_index(f"{'uq' if unique else 'ix'}_{table}_{kind}")
            if table == "dev_links":
                batch_op.drop_index("ix_dev_links_repo")
            if table == "smart_commit_results":
                batch_op.drop_index("ix_smart_commit_results_sha")
            if table == "github_connections":
                batch_op.drop_constraint(
                    batch_op.f("fk_github_connections_jira_connection_id_jira_connections"),
                    type_="foreignkey",
                )
                batch_op.drop_constraint(
                    batch_op.f("fk_github_connections_webhook_endpoint_id_webhook_endpoints"),
                    type_="foreignkey",
                )
                batch_op.drop_column("jira_connection_id")
                batch_op.drop_column("webhook_endpoint_id")
                batch_op.drop_column("triage_rules")
            batch_op.drop_constraint(batch_op.f(f"ck_{table}_exactly_one_owner"), type_="check")
            batch_op.drop_constraint(
                batch_op.f(f"fk_{table}_owner_user_id_users"), type_="foreignkey"
            )
            batch_op.drop_constraint(
                batch_op.f(f"fk_{table}_owner_team_id_teams"), type_="foreignkey"
            )
            batch_op.drop_column("owner_user_id")
            batch_op.drop_column("owner_team_id")
            batch_op.alter_column("owner_key", existing_type=sa.String(length=48), nullable=False)
            for name in old_uniques:
                old_columns = ["owner_key", *columns]
                batch_op.create_unique_constraint(name, old_columns)
            for name in old_indexes:
                if table == "dev_links":
                    batch_op.create_index(name, ["owner_key", "repo"], unique=False)
                elif table == "smart_commit_results":
                    batch_op.create_index(name, ["owner_key", "sha"], unique=False)
                elif table == "triage_actions":
                    batch_op.create_index(name, ["owner_key", "created_at"], unique=False)
                else:
                    batch_op.create_index(name, ["owner_key"], unique=False)
