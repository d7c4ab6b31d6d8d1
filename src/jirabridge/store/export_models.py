"""Tables of the stories export: reusable export profiles, and every export with its items.

A profile is a saved mapping (connection, project, issue types, field ids, priority map...)
owned by one user or team, like a Jira connection. An export keeps what it was asked to do
(the file's name and hash, the profile as it was, the exact plan it carries out) and what
happened to each item, so history, rollback and status refresh need nothing else.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from jirabridge.store.account_models import new_id
from jirabridge.store.models import Base, BigIntPK, TimestampMixin, UTCDateTime

__all__ = ["ExportItemRow", "ExportProfileRow", "ExportStatus", "ItemOutcome", "StoryExportRow"]

_ONE_OWNER = "(owner_user_id IS NULL) <> (owner_team_id IS NULL)"


class ExportStatus:
    """Where an export stands (plain strings: they are stored and returned as they are)."""

    QUEUED = "queued"
    RUNNING = "running"
    FINISHED = "finished"
    FAILED = "failed"
    ALL = (QUEUED, RUNNING, FINISHED, FAILED)


class ItemOutcome:
    """What happened to one item of an export."""

    PENDING = "pending"
    CREATED = "created"
    UPDATED = "updated"
    SKIPPED = "skipped"
    FAILED = "failed"
    #: Sent, answer lost: the next run of the export reconciles it.
    UNKNOWN = "unknown"
    ALL = (PENDING, CREATED, UPDATED, SKIPPED, FAILED, UNKNOWN)


class ExportProfileRow(TimestampMixin, Base):
    """A saved mapping from stories files to one Jira project."""

    __tablename__ = "export_profiles"
    __table_args__ = (
        CheckConstraint(_ONE_OWNER, name="exactly_one_owner"),
        UniqueConstraint("owner_user_id", "name", name="owner_name"),
        Index("ix_export_profiles_owner_team_id", "owner_team_id"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    owner_user_id: Mapped[str | None] = mapped_column(
        String(36), ForeignKey("users.id", ondelete="CASCADE"), nullable=True
    )
    owner_team_id: Mapped[str | None] = mapped_column(
        String(36), ForeignKey("teams.id", ondelete="CASCADE"), nullable=True
    )
    name: Mapped[str] = mapped_column(String(80), nullable=False)
    connection_id: Mapped[str | None] = mapped_column(
        String(36), ForeignKey("jira_connections.id", ondelete="SET NULL"), nullable=True
    )
    #: The mapping (``ExportProfile`` fields but ``namespace``, which we derive).
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    #: Grows on every change: a preview made with an older version no longer applies.
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)


class StoryExportRow(TimestampMixin, Base):
    """One export of a stories file: who, when, where, what plan, and how it ended."""

    __tablename__ = "story_exports"
    __table_args__ = (
        CheckConstraint(_ONE_OWNER, name="exactly_one_owner"),
        Index("ix_story_exports_owner_created", "owner_user_id", "created_at"),
        Index("ix_story_exports_owner_team_id", "owner_team_id"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    owner_user_id: Mapped[str | None] = mapped_column(
        String(36), ForeignKey("users.id", ondelete="CASCADE"), nullable=True
    )
    owner_team_id: Mapped[str | None] = mapped_column(
        String(36), ForeignKey("teams.id", ondelete="CASCADE"), nullable=True
    )
    actor_user_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    #: No foreign key: history outlives a deleted connection.
    connection_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    #: The site key (queue partition and ledger site).
    site: Mapped[str] = mapped_column(String(512), nullable=False)
    #: For browse links.
    base_url: Mapped[str] = mapped_column(String(2048), nullable=False)
    profile_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    profile_name: Mapped[str] = mapped_column(String(80), nullable=False)
    file_name: Mapped[str] = mapped_column(String(255), nullable=False)
    file_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    plan_id: Mapped[str] = mapped_column(String(64), nullable=False)
    #: The exact plan the export carries out (serialised ``ExportPlan``).
    plan: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default=ExportStatus.QUEUED)
    total: Mapped[int] = mapped_column(Integer, nullable=False)
    counts: Mapped[dict[str, int] | None] = mapped_column(JSON, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    #: The last rollback applied: mode, when, counts.
    rollback: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)


class ExportItemRow(Base):
    """One item of an export: its planned action, its outcome, its issue."""

    __tablename__ = "story_export_items"
    __table_args__ = (
        UniqueConstraint("export_id", "item_id", name="export_item"),
        CheckConstraint(
            "outcome IN (" + ", ".join(repr(v) for v in ItemOutcome.ALL) + ")", name="outcome"
        ),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    export_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("story_exports.id", ondelete="CASCADE"), nullable=False
    )
    position: Mapped[int] = mapped_column(Integer, nullable=False)
    item_id: Mapped[str] = mapped_column(String(200), nullable=False)
    level: Mapped[str] = mapped_column(String(8), nullable=False)
    summary: Mapped[str] = mapped_column(String(512), nullable=False, default="")
    #: create / update / unchanged, as planned.
    action: Mapped[str] = mapped_column(String(16), nullable=False)
    outcome: Mapped[str] = mapped_column(String(16), nullable=False, default=ItemOutcome.PENDING)
    jira_key: Mapped[str | None] = mapped_column(String(64), nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    jira_status: Mapped[str | None] = mapped_column(String(128), nullable=True)
    status_checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    #: What the last rollback did to it (``done``, ``refuse``, ``skip``, ``failed: ...``).
    rollback: Mapped[str | None] = mapped_column(Text, nullable=True)
