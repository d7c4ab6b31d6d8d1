"""The write ledger: the record of every write we make to Jira, kept so no write is doubled.

A write goes through the ledger in three moves, each its own short transaction:

1. :meth:`WriteLedger.record_intent` before anything is sent. Under concurrent callers
   exactly one creates the entry (a unique constraint decides); the others get the existing
   entry back and must not write.
2. :meth:`WriteLedger.mark_sent` just before the request goes out. From here on the outcome is
   unknown until Jira answers: a lost answer may hide an applied write, so an entry left
   ``sent`` is reconciled (looked up in Jira by its external id) before it is ever sent again.
3. :meth:`WriteLedger.confirm` with Jira's id once it answered, or :meth:`WriteLedger.mark_failed`
   when Jira refused the write outright.

:meth:`WriteLedger.list_unconfirmed` feeds the reconcile job; :meth:`WriteLedger.replan` starts
a later update or delete of an object we already wrote.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from sqlalchemy import ColumnElement, and_, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from jirabridge.errors import ConflictError, NotFoundError, ValidationError
from jirabridge.store.db import read_transaction, storage_errors, write_transaction
from jirabridge.store.models import LedgerState, WriteLedgerRow, WriteOperation, utcnow

__all__ = [
    "IntentResult",
    "LedgerEntry",
    "LedgerKey",
    "WriteLedger",
]

#: ``last_error`` is cut to this many characters; it is for people, not for parsing.
MAX_ERROR_LENGTH: Final = 2000
_MAX_ID_LENGTH: Final = 255
_KIND_PATTERN: Final = re.compile(r"^[a-z][a-z0-9_]{0,31}$")

_UNCONFIRMED: Final = (LedgerState.PLANNED, LedgerState.SENT)


@dataclass(frozen=True, slots=True)
class LedgerKey:
    """Identifies one remote object we write: the site, the kind of object, and our id for it."""

    site: str
    kind: str
    external_id: str

    def __post_init__(self) -> None:
        for field_name in ("site", "external_id"):
            value = getattr(self, field_name)
            if not isinstance(value, str) or not value.strip():
                raise ValidationError(f"ledger {field_name} must be a non-empty string")
            if len(value) > _MAX_ID_LENGTH:
                raise ValidationError(
                    f"ledger {field_name} is longer than {_MAX_ID_LENGTH} characters"
                )
        if not isinstance(self.kind, str) or not _KIND_PATTERN.match(self.kind):
            raise ValidationError(
                "ledger kind must be lower-case letters, digits and underscores "
                "(at most 32, starting with a letter), e.g. 'worklog'"
            )


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """A snapshot of one ledger row."""

    id: int
    key: LedgerKey
    operation: WriteOperation
    state: LedgerState
    remote_id: str | None
    target: str | None
    fingerprint: str
    attempts: int
    last_error: str | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_row(cls, row: WriteLedgerRow) -> LedgerEntry:
        """Build a snapshot from an ORM row."""
        return cls(
            id=row.id,
            key=LedgerKey(row.site, row.kind, row.external_id),
            operation=WriteOperation(row.operation),
            state=LedgerState(row.state),
            remote_id=row.remote_id,
            target=row.target,
            fingerprint=row.fingerprint,
            attempts=row.attempts,
            last_error=row.last_error,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )


@dataclass(frozen=True, slots=True)
class IntentResult:
    """What :meth:`WriteLedger.record_intent` found: the entry, and whether this call made it."""

    entry: LedgerEntry
    created: bool


def _check_fingerprint(fingerprint: str) -> None:
    if not isinstance(fingerprint, str) or not fingerprint or len(fingerprint) > 128:
        raise ValidationError("ledger fingerprint must be a non-empty string of ≤ 128 characters")


def _check_optional_id(name: str, value: str | None) -> None:
    if value is not None and (not value.strip() or len(value) > _MAX_ID_LENGTH):
        raise ValidationError(f"ledger {name} must be non-empty and ≤ {_MAX_ID_LENGTH} characters")


def _storage_errors(action: str) -> AbstractContextManager[None]:
    return storage_errors("write ledger", action)


def _key_filter(key: LedgerKey) -> ColumnElement[bool]:
    return and_(
        WriteLedgerRow.site == key.site,
        WriteLedgerRow.kind == key.kind,
        WriteLedgerRow.external_id == key.external_id,
    )


class WriteLedger:
    """Repository of :class:`LedgerEntry` rows; every method is one short transaction.

    Safe to share between tasks and to use from several processes at once: state changes are
    conditional updates, and creation relies on the ``(site, kind, external_id)`` unique
    constraint. ``clock`` returns the aware UTC time stamped on changes (injectable for tests).
    """

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._sessions = sessions
        self._clock = clock

    async def record_intent(
        self,
        key: LedgerKey,
        *,
        fingerprint: str,
        operation: WriteOperation = WriteOperation.CREATE,
        target: str | None = None,
    ) -> IntentResult:
        """Record that we are about to write ``key``, unless an entry already exists.

        Returns the entry and ``created=True`` if this call made it (the caller owns the
        write), or the existing entry and ``created=False`` (someone else planned or made this
        write: compare its state and fingerprint, do not write blindly).
        """
        _check_fingerprint(fingerprint)
        _check_optional_id("target", target)
        now = self._clock()
        values: dict[str, Any] = {
            "site": key.site,
            "kind": key.kind,
            "external_id": key.external_id,
            "operation": WriteOperation(operation).value,
            "state": LedgerState.PLANNED.value,
            "fingerprint": fingerprint,
            "target": target,
            "attempts": 0,
            "created_at": now,
            "updated_at": now,
        }
        with _storage_errors("record an intent"):
            async with write_transaction(self._sessions) as session:
                dialect = session.get_bind().dialect.name
                insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
                statement = (
                    insert(WriteLedgerRow)
                    .values(**values)
                    .on_conflict_do_nothing(index_elements=["site", "kind", "external_id"])
                    .returning(WriteLedgerRow.id)
                )
                inserted_id = (await session.execute(statement)).scalar_one_or_none()
                row = (
                    await session.execute(select(WriteLedgerRow).where(_key_filter(key)))
                ).scalar_one()
                return IntentResult(LedgerEntry.from_row(row), created=inserted_id is not None)

    async def mark_sent(self, key: LedgerKey) -> LedgerEntry:
        """Record that the request is about to go out; counts an attempt.

        Allowed from ``planned``, ``sent`` (a resend after reconcile found nothing) and
        ``failed``. Raises :class:`~jirabridge.errors.ConflictError` if already confirmed.
        """
        return await self._transition(
            key,
            allowed=(LedgerState.PLANNED, LedgerState.SENT, LedgerState.FAILED),
            values={
                "state": LedgerState.SENT.value,
                "attempts": WriteLedgerRow.attempts + 1,
            },
            action="mark the write sent",
        )

    async def confirm(self, key: LedgerKey, remote_id: str) -> LedgerEntry:
        """Record that Jira holds the object under ``remote_id``.

        Idempotent for the same ``remote_id``. Confirming an entry already confirmed with a
        different remote id raises :class:`~jirabridge.errors.ConflictError`: that would mean
        two remote objects for one of ours, i.e. a duplicate.
        """
        if not isinstance(remote_id, str):
            raise ValidationError("ledger remote_id must be a string")
        _check_optional_id("remote_id", remote_id)
        not_confirmed = WriteLedgerRow.state != LedgerState.CONFIRMED.value
        same_remote = and_(
            WriteLedgerRow.state == LedgerState.CONFIRMED.value,
            WriteLedgerRow.remote_id == remote_id,
        )
        return await self._transition(
            key,
            condition=or_(not_confirmed, same_remote),
            values={
                "state": LedgerState.CONFIRMED.value,
                "remote_id": remote_id,
                "last_error": None,
            },
            action="confirm the write",
        )

    async def mark_failed(self, key: LedgerKey, error: str) -> LedgerEntry:
        """Record that Jira refused the write (a definite answer, nothing applied).

        ``error`` is shown to people; it must not contain secrets. Only use this when the
        outcome is known: after a timeout or a dropped connection the entry stays ``sent``.
        """
        if not isinstance(error, str) or not error.strip():
            raise ValidationError("ledger error must be a non-empty string")
        return await self._transition(
            key,
            allowed=(LedgerState.PLANNED, LedgerState.SENT, LedgerState.FAILED),
            values={"state": LedgerState.FAILED.value, "last_error": error[:MAX_ERROR_LENGTH]},
            action="mark the write failed",
        )

    async def replan(
        self,
        key: LedgerKey,
        *,
        fingerprint: str,
        operation: WriteOperation,
        target: str | None = None,
    ) -> LedgerEntry:
        """Plan a new write (typically an update or delete) of an object already in the ledger.

        Allowed from ``confirmed``, ``failed`` and ``planned``; the remote id is kept. Raises
        :class:`~jirabridge.errors.ConflictError` while the entry is ``sent``: reconcile first.
        """
        _check_fingerprint(fingerprint)
        _check_optional_id("target", target)
        values: dict[str, Any] = {
            "state": LedgerState.PLANNED.value,
            "operation": WriteOperation(operation).value,
            "fingerprint": fingerprint,
            "attempts": 0,
            "last_error": None,
        }
        if target is not None:
            values["target"] = target
        return await self._transition(
            key,
            allowed=(LedgerState.CONFIRMED, LedgerState.FAILED, LedgerState.PLANNED),
            values=values,
            action="plan a new write",
        )

    async def get(self, key: LedgerKey) -> LedgerEntry | None:
        """The entry for ``key``, or ``None``."""
        with _storage_errors("read an entry"):
            async with read_transaction(self._sessions) as session:
                row = (
                    await session.execute(select(WriteLedgerRow).where(_key_filter(key)))
                ).scalar_one_or_none()
                return None if row is None else LedgerEntry.from_row(row)

    async def find_by_remote_id(self, site: str, kind: str, remote_id: str) -> LedgerEntry | None:
        """The entry whose Jira id is ``remote_id`` (how we recognise our own writes)."""
        with _storage_errors("read an entry"):
            async with read_transaction(self._sessions) as session:
                row = (
                    await session.execute(
                        select(WriteLedgerRow)
                        .where(
                            WriteLedgerRow.site == site,
                            WriteLedgerRow.kind == kind,
                            WriteLedgerRow.remote_id == remote_id,
                        )
                        .order_by(WriteLedgerRow.id)
                        .limit(1)
                    )
                ).scalar_one_or_none()
                return None if row is None else LedgerEntry.from_row(row)

    async def list_unconfirmed(
        self,
        *,
        site: str | None = None,
        kind: str | None = None,
        states: Iterable[LedgerState] = _UNCONFIRMED,
        updated_before: datetime | None = None,
        limit: int = 100,
        after_id: int | None = None,
    ) -> list[LedgerEntry]:
        """Entries still waiting for an outcome (``planned`` or ``sent`` by default), oldest first.

        ``updated_before`` leaves out entries touched recently (a write may still be in
        flight, and Jira's search lags); page with ``after_id`` set to the last id seen.
        """
        if not 1 <= limit <= 10_000:
            raise ValidationError("limit must be between 1 and 10000")
        wanted = [LedgerState(state).value for state in states]
        if not wanted:
            raise ValidationError("states must name at least one ledger state")
        statement = select(WriteLedgerRow).where(WriteLedgerRow.state.in_(wanted))
        if site is not None:
            statement = statement.where(WriteLedgerRow.site == site)
        if kind is not None:
            statement = statement.where(WriteLedgerRow.kind == kind)
        if updated_before is not None:
            statement = statement.where(WriteLedgerRow.updated_at < updated_before)
        if after_id is not None:
            statement = statement.where(WriteLedgerRow.id > after_id)
        statement = statement.order_by(WriteLedgerRow.id).limit(limit)
        with _storage_errors("list entries"):
            async with read_transaction(self._sessions) as session:
                rows = (await session.execute(statement)).scalars().all()
                return [LedgerEntry.from_row(row) for row in rows]

    async def _transition(
        self,
        key: LedgerKey,
        *,
        values: dict[str, Any],
        action: str,
        allowed: Sequence[LedgerState] = (),
        condition: ColumnElement[bool] | None = None,
    ) -> LedgerEntry:
        if condition is None:
            condition = WriteLedgerRow.state.in_([state.value for state in allowed])
        statement = (
            update(WriteLedgerRow)
            .where(_key_filter(key), condition)
            .values(**values, updated_at=self._clock())
            .returning(WriteLedgerRow)
            .execution_options(synchronize_session=False)
        )
        with _storage_errors(action):
            async with write_transaction(self._sessions) as session:
                row = (await session.execute(statement)).scalar_one_or_none()
                if row is not None:
                    return LedgerEntry.from_row(row)
                current = (
                    await session.execute(select(WriteLedgerRow).where(_key_filter(key)))
                ).scalar_one_or_none()
        if current is None:
            raise NotFoundError(
                f"no ledger entry for {key.kind} {key.external_id!r} on site {key.site!r}"
            )
        raise ConflictError(
            f"cannot {action}: ledger entry for {key.kind} {key.external_id!r} "
            f"on site {key.site!r} is {current.state}",
            details={"state": current.state, "remote_id": current.remote_id},
        )
