"""Tables of the GitHub-and-Jira features: issue links, Smart Commit results, backfill cursors,
and the triage action log.

Every row carries ``owner_key`` (``user:<id>`` or ``team:<id>``, the owner of the GitHub
connection it came through); every query in :mod:`jirabridge.store.devlinks` filters on it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from jirabridge.store.models import Base, CreatedAtMixin, TimestampMixin

__all__ = [
    "BackfillCursorRow",
    "DevLinkRow",
    "GitHubConnectionRow",
    "SmartCommitResultRow",
    "TriageActionRow",
]

_ID = BigInteger().with_variant(Integer(), "sqlite")


class DevLinkRow(TimestampMixin, Base):
    """One issue named by one pull request or commit (many-to-many), with where it was named."""

    __tablename__ = "dev_links"
    __table_args__ = (
        UniqueConstraint("owner_key", "issue_key", "repo", "kind", "ref"),
        Index("ix_dev_links_owner_repo", "owner_key", "repo"),
    )

    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    owner_key: Mapped[str] = mapped_column(String(48), nullable=False)
    issue_key: Mapped[str] = mapped_column(String(255), nullable=False)
    repo: Mapped[str] = mapped_column(String(255), nullable=False)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    ref: Mapped[str] = mapped_column(String(64), nullable=False)
    found_in: Mapped[list[Any]] = mapped_column(JSON, nullable=False, default=list)
    url: Mapped[str | None] = mapped_column(String(2048), nullable=True)
    title: Mapped[str | None] = mapped_column(Text, nullable=True)
    state: Mapped[str | None] = mapped_column(String(16), nullable=True)


class SmartCommitResultRow(TimestampMixin, Base):
    """What one Smart Commit command of one commit did (or why it could not)."""

    __tablename__ = "smart_commit_results"
    __table_args__ = (
        UniqueConstraint("owner_key", "external_id"),
        Index("ix_smart_commit_results_owner_sha", "owner_key", "sha"),
    )

    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    owner_key: Mapped[str] = mapped_column(String(48), nullable=False)
    repo: Mapped[str] = mapped_column(String(255), nullable=False)
    sha: Mapped[str] = mapped_column(String(64), nullable=False)
    external_id: Mapped[str] = mapped_column(String(255), nullable=False)
    issue_key: Mapped[str | None] = mapped_column(String(255), nullable=True)
    kind: Mapped[str] = mapped_column(String(32), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    detail: Mapped[str | None] = mapped_column(Text, nullable=True)


class BackfillCursorRow(TimestampMixin, Base):
    """Where a repository's backfill stands, so a crashed run resumes."""

    __tablename__ = "backfill_cursors"
    __table_args__ = (UniqueConstraint("owner_key", "repo"),)

    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    owner_key: Mapped[str] = mapped_column(String(48), nullable=False)
    repo: Mapped[str] = mapped_column(String(255), nullable=False)
    last_number: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    processed: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    total: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    done: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)


class TriageActionRow(CreatedAtMixin, Base):
    """One entry of the triage action log."""

    __tablename__ = "triage_actions"
    __table_args__ = (Index("ix_triage_actions_owner_created", "owner_key", "created_at"),)

    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    owner_key: Mapped[str] = mapped_column(String(48), nullable=False)
    bug_source: Mapped[str] = mapped_column(String(16), nullable=False)
    bug_ref: Mapped[str] = mapped_column(String(255), nullable=False)
    rule: Mapped[str] = mapped_column(String(200), nullable=False)
    kind: Mapped[str] = mapped_column(String(32), nullable=False)
    value: Mapped[str] = mapped_column(Text, nullable=False, default="")
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    detail: Mapped[str | None] = mapped_column(Text, nullable=True)


class GitHubConnectionRow(TimestampMixin, Base):
    """A GitHub connection of one owner: a token or a GitHub App installation.

    ``secret_ciphertext`` is the token or the App's private key and ``webhook_secret_ciphertext``
    the generated webhook secret, both :class:`~jirabridge.store.secrets.SecretBox` ciphertexts
    bound to the owner and this row.
    """

    __tablename__ = "github_connections"
    __table_args__ = (Index("ix_github_connections_owner", "owner_key"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    owner_key: Mapped[str] = mapped_column(String(48), nullable=False)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    app_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    installation_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    secret_ciphertext: Mapped[str] = mapped_column(Text, nullable=False)
    webhook_secret_ciphertext: Mapped[str] = mapped_column(Text, nullable=False)
    repos: Mapped[list[Any]] = mapped_column(JSON, nullable=False, default=list)
    project_keys: Mapped[list[Any]] = mapped_column(JSON, nullable=False, default=list)
    triage_label: Mapped[str | None] = mapped_column(String(100), nullable=True)
