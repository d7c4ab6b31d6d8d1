"""The application schema: declarative base, shared column types, and the table models.

Every table model lives in (or is imported by) this module, because the migrations compare
``Base.metadata`` with the database: a model Alembic cannot see is a model it cannot migrate.

Constraint names follow :data:`NAMING_CONVENTION` so that migrations can refer to them by
name on both backends (SQLite batch migrations need named constraints to drop them).
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any, ClassVar, Final

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    Dialect,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = [
    "NAMING_CONVENTION",
    "Base",
    "BigIntPK",
    "CreatedAtMixin",
    "LedgerState",
    "TimestampMixin",
    "UTCDateTime",
    "WriteLedgerRow",
    "WriteOperation",
    "utcnow",
]

NAMING_CONVENTION: Final = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

#: An integer primary key that is 64-bit on PostgreSQL and SQLite's rowid on SQLite
#: (SQLite only auto-increments a column declared exactly ``INTEGER PRIMARY KEY``).
BigIntPK = BigInteger().with_variant(Integer(), "sqlite")


def utcnow() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp, stored the same way in meaning on both backends.

    PostgreSQL stores ``timestamptz``. SQLite has no time zone support, so the value is stored
    as naive UTC text (which also sorts correctly) and read back as aware UTC. Naive values are
    refused on the way in: a naive datetime has no defined instant.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("naive datetime given for a UTC timestamp column; attach a tzinfo")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    """Declarative base of every application table."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime()}


class CreatedAtMixin:
    """Adds ``created_at``, set when the row is inserted."""

    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)


class TimestampMixin(CreatedAtMixin):
    """Adds ``created_at`` and ``updated_at``; ``updated_at`` moves on every ORM update."""

    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), default=utcnow, onupdate=utcnow, nullable=False
    )


class LedgerState(enum.StrEnum):
    """Where a write to Jira stands.

    ``planned``: recorded before anything was sent. ``sent``: a request went out and its
    outcome is unknown (it may have been applied even if no answer came back), so it must be
    reconciled before it is sent again. ``confirmed``: Jira answered and the remote id is
    known. ``failed``: Jira answered with a definite refusal; nothing was applied.
    """

    PLANNED = "planned"
    SENT = "sent"
    CONFIRMED = "confirmed"
    FAILED = "failed"


class WriteOperation(enum.StrEnum):
    """What the latest write of a ledger entry does to the remote object."""

    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"


def _in_list(column: str, values: type[enum.StrEnum]) -> str:
    return f"{column} IN ({', '.join(repr(v.value) for v in values)})"


class WriteLedgerRow(TimestampMixin, Base):
    """One remote object we write to Jira, and the state of our latest write to it.

    Keyed by ``(site, kind, external_id)``: our own id for the object (for example the time
    record a worklog comes from). The unique constraint is what makes recording an intent safe
    when two workers try at once: exactly one insert wins.
    """

    __tablename__ = "write_ledger"
    __table_args__ = (
        UniqueConstraint("site", "kind", "external_id"),
        Index("ix_write_ledger_site_kind_remote_id", "site", "kind", "remote_id"),
        Index("ix_write_ledger_state_updated_at", "state", "updated_at"),
        CheckConstraint(_in_list("state", LedgerState), name="state"),
        CheckConstraint(_in_list("operation", WriteOperation), name="operation"),
        CheckConstraint("attempts >= 0", name="attempts_non_negative"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    #: The Jira site or connection the write goes to (one rate-limit and reconcile scope).
    site: Mapped[str] = mapped_column(String(255), nullable=False)
    #: What is written: ``worklog``, ``issue``, ``comment``, ``issue_link``...
    kind: Mapped[str] = mapped_column(String(32), nullable=False)
    #: Our id for the object, stamped on it in Jira where Jira allows (e.g. a worklog property).
    external_id: Mapped[str] = mapped_column(String(255), nullable=False)
    operation: Mapped[str] = mapped_column(String(16), nullable=False)
    state: Mapped[str] = mapped_column(String(16), nullable=False)
    #: Jira's id of the object once known (worklog id, issue id...).
    remote_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    #: The remote object the write is made on (e.g. the issue key of a worklog), for reconcile.
    target: Mapped[str | None] = mapped_column(String(255), nullable=True)
    #: A hash of the request body, to tell "same write again" from "a different write".
    fingerprint: Mapped[str] = mapped_column(String(128), nullable=False)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
