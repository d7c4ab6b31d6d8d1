"""Tables of the sprint-report cache: one row per board of a site, one per cached issue.

The cache is shared by every process of a deployment (web and workers, on any host), so it
lives in the database rather than in files (decision 0600). Issues are rows of their own so an
incremental refresh writes only what changed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from jirabridge.store.models import Base, BigIntPK, TimestampMixin, UTCDateTime

__all__ = ["ReportCacheBoardRow", "ReportCacheIssueRow"]


class ReportCacheBoardRow(TimestampMixin, Base):
    """One board of one Jira site (``connection-<id>`` for the service) and what was loaded."""

    __tablename__ = "report_cache_boards"
    __table_args__ = (UniqueConstraint("site", "board_id"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    site: Mapped[str] = mapped_column(String(255), nullable=False)
    board_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    #: Load marks (covered sprints, covered since, loaded at), statuses and field ids: small.
    meta: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)


class ReportCacheIssueRow(Base):
    """One issue as Jira gave it (fields and full changelog), under its board."""

    __tablename__ = "report_cache_issues"
    __table_args__ = (
        UniqueConstraint("board_row_id", "issue_key"),
        Index("ix_report_cache_issues_board_row_id_issue_id", "board_row_id", "issue_id"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    board_row_id: Mapped[int] = mapped_column(
        BigIntPK, ForeignKey("report_cache_boards.id", ondelete="CASCADE"), nullable=False
    )
    issue_key: Mapped[str] = mapped_column(String(64), nullable=False)
    issue_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    #: Jira's ``updated`` of the stored copy: a slower writer never replaces a newer copy.
    jira_updated: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    raw: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
