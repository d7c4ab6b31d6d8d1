"""Tables of the time-record feature: time records and the log of every sync attempt.

A time record is owned by exactly one user or team (like a Jira connection) and syncs through
one of its owner's connections. The ``synced_*`` columns hold the version both sides agreed on
at the last successful sync: comparing each side with it tells a change on one side from a
change on both (a conflict).
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from jirabridge.store.account_models import new_id
from jirabridge.store.models import Base, BigIntPK, CreatedAtMixin, TimestampMixin, UTCDateTime

__all__ = ["PullCursorRow", "SyncAttemptRow", "SyncRunRow", "SyncState", "TimeRecordRow"]


class SyncState(enum.StrEnum):
    """Where a time record stands with Jira."""

    NOT_SYNCED = "not-synced"
    PENDING = "pending"
    SYNCED = "synced"
    ERROR = "error"
    CONFLICT = "conflict"


def _in_list(column: str, values: type[enum.StrEnum]) -> str:
    return f"{column} IN ({', '.join(repr(v.value) for v in values)})"


class TimeRecordRow(TimestampMixin, Base):
    """Time someone spent, to land in Jira as one worklog."""

    __tablename__ = "time_records"
    __table_args__ = (
        CheckConstraint(_in_list("sync_state", SyncState), name="sync_state"),
        CheckConstraint(
            "(owner_user_id IS NULL) <> (owner_team_id IS NULL)", name="exactly_one_owner"
        ),
        CheckConstraint("duration_seconds >= 0", name="duration_non_negative"),
        Index("ix_time_records_owner_started", "owner_user_id", "owner_team_id", "started_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    owner_user_id: Mapped[str | None] = mapped_column(
        String(36), ForeignKey("users.id", ondelete="CASCADE"), nullable=True
    )
    owner_team_id: Mapped[str | None] = mapped_column(
        String(36), ForeignKey("teams.id", ondelete="CASCADE"), nullable=True
    )
    connection_id: Mapped[str | None] = mapped_column(
        String(36), ForeignKey("jira_connections.id", ondelete="SET NULL"), nullable=True
    )
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    #: The IANA zone the record was entered in; Jira gets ``started`` with that zone's offset.
    time_zone: Mapped[str] = mapped_column(String(64), nullable=False, default="UTC")
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    #: Rounded once when the record is saved (see ``sync.worklogs.rounding``) and kept.
    duration_seconds: Mapped[int] = mapped_column(Integer, nullable=False)
    notes: Mapped[str] = mapped_column(Text, nullable=False, default="")
    external_link: Mapped[str | None] = mapped_column(String(2048), nullable=True)
    issue_key: Mapped[str | None] = mapped_column(String(64), nullable=True)
    #: Soft delete: the row stays until the worklog it wrote is deleted in Jira.
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    worklog_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    sync_state: Mapped[str] = mapped_column(
        String(16), nullable=False, default=SyncState.NOT_SYNCED.value
    )
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    last_synced_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    #: The agreed version at the last sync: issue, fingerprint, and Jira's copy of it.
    synced_issue_key: Mapped[str | None] = mapped_column(String(64), nullable=True)
    synced_fingerprint: Mapped[str | None] = mapped_column(String(64), nullable=True)
    #: Both versions of a conflict, for the user to choose from.
    conflict: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)

    def __repr__(self) -> str:
        return (
            f"TimeRecordRow(id={self.id!r}, issue_key={self.issue_key!r}, "
            f"sync_state={self.sync_state!r})"
        )


class SyncAttemptRow(CreatedAtMixin, Base):
    """One attempt to carry a record's change to Jira (or to take Jira's change back)."""

    __tablename__ = "worklog_sync_attempts"
    __table_args__ = (
        Index("ix_worklog_sync_attempts_record_id", "record_id"),
        Index("ix_worklog_sync_attempts_run_id", "run_id"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    record_id: Mapped[str] = mapped_column(String(36), nullable=False)
    owner_user_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    owner_team_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    run_id: Mapped[str | None] = mapped_column(String(100), nullable=True)
    #: create / update / delete / adopt / pull / conflict / error / noop
    action: Mapped[str] = mapped_column(String(16), nullable=False)
    #: pending / success / failed
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    worklog_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    actor_user_id: Mapped[str | None] = mapped_column(String(36), nullable=True)


class SyncRunRow(TimestampMixin, Base):
    """One bulk sync: which records, how far it got, and its summary when done.

    The durable workflow carrying it out is ``workflow_id("worklog-run", id)``; progress is
    counted from the attempts logged under this run id.
    """

    __tablename__ = "worklog_sync_runs"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    owner_user_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    owner_team_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    connection_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    actor_user_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    record_ids: Mapped[list[str]] = mapped_column(JSON, nullable=False)
    total: Mapped[int] = mapped_column(Integer, nullable=False)
    #: running / finished
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="running")
    summary: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class PullCursorRow(Base):
    """How far the pull-back has read a connection's worklog change feeds."""

    __tablename__ = "worklog_pull_cursors"

    connection_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    cursor: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
