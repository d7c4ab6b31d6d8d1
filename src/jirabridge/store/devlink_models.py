"""Tables of the GitHub-and-Jira features: issue links, Smart Commit results, backfill cursors,
and the triage action log.

Every row belongs to exactly one user or one team (``owner_user_id`` / ``owner_team_id``, foreign
keys that cascade on delete, like the Jira connections); every query in
:mod:`jirabridge.store.devlinks` filters on the owner. Uniqueness per owner is two partial unique
indexes (one per owner column) because a NULL never collides in a plain unique constraint.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from jirabridge.store.models import Base, CreatedAtMixin, TimestampMixin, UTCDateTime

__all__ = [
    "BackfillCursorRow",
    "BackfillRunRow",
    "DevLinkRow",
    "GitHubConnectionRow",
    "SmartCommitResultRow",
    "TriageActionRow",
]

_ID = BigInteger().with_variant(Integer(), "sqlite")
_ONE_OWNER = "(owner_user_id IS NULL) <> (owner_team_id IS NULL)"


def owner_constraints(table: str, *columns: str, unique: bool = True) -> tuple[Any, ...]:
    """The exactly-one-owner check and, per owner column, an index on ``(owner, *columns)``.

    With ``unique`` the two indexes are partial unique indexes (each only over the rows of its
    owner kind), which is how one owner's rows stay unique on ``columns``.
    """
    args: list[Any] = [CheckConstraint(_ONE_OWNER, name="exactly_one_owner")]
    for kind in ("user", "team"):
        column = f"owner_{kind}_id"
        where = text(f"{column} IS NOT NULL")
        args.append(
            Index(
                f"{'uq' if unique else 'ix'}_{table}_{kind}",
                column,
                *columns,
                unique=unique,
                sqlite_where=where,
                postgresql_where=where,
            )
        )
    return tuple(args)


class OwnedMixin:
    """``owner_user_id`` or ``owner_team_id`` (exactly one), deleted with their owner."""

    owner_user_id: Mapped[str | None] = mapped_column(
        String(36), ForeignKey("users.id", ondelete="CASCADE"), nullable=True
    )
    owner_team_id: Mapped[str | None] = mapped_column(
        String(36), ForeignKey("teams.id", ondelete="CASCADE"), nullable=True
    )

    @property
    def owner_key(self) -> str:
        """``user:<id>`` or ``team:<id>`` (the owner part of secret bindings)."""
        if self.owner_team_id is not None:
            return f"team:{self.owner_team_id}"
        return f"user:{self.owner_user_id}"


class DevLinkRow(OwnedMixin, TimestampMixin, Base):
    """One issue named by one pull request or commit (many-to-many), with where it was named."""

    __tablename__ = "dev_links"
    __table_args__ = (
        *owner_constraints("dev_links", "issue_key", "repo", "kind", "ref"),
        Index("ix_dev_links_repo", "repo"),
    )

    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    issue_key: Mapped[str] = mapped_column(String(255), nullable=False)
    repo: Mapped[str] = mapped_column(String(255), nullable=False)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    ref: Mapped[str] = mapped_column(String(64), nullable=False)
    found_in: Mapped[list[Any]] = mapped_column(JSON, nullable=False, default=list)
    url: Mapped[str | None] = mapped_column(String(2048), nullable=True)
    title: Mapped[str | None] = mapped_column(Text, nullable=True)
    state: Mapped[str | None] = mapped_column(String(16), nullable=True)


class SmartCommitResultRow(OwnedMixin, TimestampMixin, Base):
    """What one Smart Commit command of one commit did (or why it could not)."""

    __tablename__ = "smart_commit_results"
    __table_args__ = (
        *owner_constraints("smart_commit_results", "external_id"),
        Index("ix_smart_commit_results_sha", "sha"),
    )

    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    repo: Mapped[str] = mapped_column(String(255), nullable=False)
    sha: Mapped[str] = mapped_column(String(64), nullable=False)
    external_id: Mapped[str] = mapped_column(String(255), nullable=False)
    issue_key: Mapped[str | None] = mapped_column(String(255), nullable=True)
    kind: Mapped[str] = mapped_column(String(32), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    detail: Mapped[str | None] = mapped_column(Text, nullable=True)


class BackfillCursorRow(OwnedMixin, TimestampMixin, Base):
    """Where a repository's backfill stands, so a crashed run resumes."""

    __tablename__ = "backfill_cursors"
    __table_args__ = owner_constraints("backfill_cursors", "repo")

    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    repo: Mapped[str] = mapped_column(String(255), nullable=False)
    last_number: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    processed: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    total: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    done: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)


class TriageActionRow(OwnedMixin, CreatedAtMixin, Base):
    """One entry of the triage action log."""

    __tablename__ = "triage_actions"
    __table_args__ = owner_constraints("triage_actions", "created_at", unique=False)

    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    bug_source: Mapped[str] = mapped_column(String(16), nullable=False)
    bug_ref: Mapped[str] = mapped_column(String(255), nullable=False)
    rule: Mapped[str] = mapped_column(String(200), nullable=False)
    kind: Mapped[str] = mapped_column(String(32), nullable=False)
    value: Mapped[str] = mapped_column(Text, nullable=False, default="")
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    detail: Mapped[str | None] = mapped_column(Text, nullable=True)
    #: The connection whose rules acted (None: logged before connections were recorded).
    github_connection_id: Mapped[str | None] = mapped_column(String(36), nullable=True)


class GitHubConnectionRow(OwnedMixin, TimestampMixin, Base):
    """A GitHub connection of one owner: a token or a GitHub App installation.

    ``secret_ciphertext`` is the token or the App's private key and ``webhook_secret_ciphertext``
    the generated webhook secret, both :class:`~jirabridge.store.secrets.SecretBox` ciphertexts
    bound to the owner and this row.
    """

    __tablename__ = "github_connections"
    __table_args__ = owner_constraints("github_connections", "name", unique=False)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    app_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    installation_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    secret_ciphertext: Mapped[str] = mapped_column(Text, nullable=False)
    webhook_secret_ciphertext: Mapped[str] = mapped_column(Text, nullable=False)
    repos: Mapped[list[Any]] = mapped_column(JSON, nullable=False, default=list)
    project_keys: Mapped[list[Any]] = mapped_column(JSON, nullable=False, default=list)
    triage_label: Mapped[str | None] = mapped_column(String(100), nullable=True)
    #: The triage rules (YAML, validated when saved) applied to new bugs of this connection.
    triage_rules: Mapped[str | None] = mapped_column(Text, nullable=True)
    #: The Jira connection links, Smart Commits and triage write to.
    jira_connection_id: Mapped[str | None] = mapped_column(
        String(36), ForeignKey("jira_connections.id", ondelete="SET NULL"), nullable=True
    )
    #: The webhook endpoint (``/webhooks/github/<id>``) GitHub delivers to.
    webhook_endpoint_id: Mapped[str | None] = mapped_column(
        String(36), ForeignKey("webhook_endpoints.id", ondelete="SET NULL"), nullable=True
    )


class BackfillRunRow(OwnedMixin, TimestampMixin, Base):
    """One backfill request: its repositories, how far back, and how it ended.

    Progress per repository is in :class:`BackfillCursorRow`; the run's workflow id is derived
    from ``id``.
    """

    __tablename__ = "backfill_runs"
    __table_args__ = owner_constraints("backfill_runs", "created_at", unique=False)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    connection_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("github_connections.id", ondelete="CASCADE"), nullable=False
    )
    repos: Mapped[list[Any]] = mapped_column(JSON, nullable=False)
    months: Mapped[int] = mapped_column(Integer, nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="queued")
    report: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
