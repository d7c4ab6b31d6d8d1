"""PROVISIONAL copy of the store branch's declarative base (replaced by theirs on merge).

Every table model lives in (or is imported by) this module, because the migrations compare
``Base.metadata`` with the database: a model Alembic cannot see is a model it cannot migrate.

Constraint names follow :data:`NAMING_CONVENTION` so that migrations can refer to them by
name on both backends (SQLite batch migrations need named constraints to drop them).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Final

from sqlalchemy import (
    BigInteger,
    DateTime,
    Dialect,
    Integer,
    MetaData,
    TypeDecorator,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = [
    "NAMING_CONVENTION",
    "Base",
    "CreatedAtMixin",
    "TimestampMixin",
    "UTCDateTime",
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
    type_annotation_map = {datetime: UTCDateTime()}  # noqa: RUF012


class CreatedAtMixin:
    """Adds ``created_at``, set when the row is inserted."""

    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)


class TimestampMixin(CreatedAtMixin):
    """Adds ``created_at`` and ``updated_at``; ``updated_at`` moves on every ORM update."""

    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), default=utcnow, onupdate=utcnow, nullable=False
    )
