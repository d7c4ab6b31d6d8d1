"""The time-record service: records (CRUD, import, issue suggestions) and their sync.

Everything a user asks for is scoped to what they may see (their own and their teams'
records and connections); another user's record is "not found". Syncs go through the
record's connection (or the user's first one) with a :class:`WorklogSync`; bulk syncs are
durable runs (:mod:`jirabridge.sync.worklogs.jobs`).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic import ValidationError as PydanticError
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from jirabridge.errors import JirabridgeError, NotFoundError, ValidationError
from jirabridge.http.governor import GovernorLimits
from jirabridge.jira import JiraClient
from jirabridge.jobs.engine import JobEngine
from jirabridge.service.connection_clients import JiraClientFactory
from jirabridge.service.settings import Settings
from jirabridge.store.account_models import ConnectionKind, JiraConnectionRow
from jirabridge.store.accounts import ConnectionRepository, get_connection_unscoped
from jirabridge.store.db import read_transaction, write_transaction
from jirabridge.store.models import utcnow
from jirabridge.store.time_records import RecordFilter, TimeRecordRepository
from jirabridge.store.worklog_models import SyncState, TimeRecordRow
from jirabridge.sync.worklogs import jobs as worklog_jobs
from jirabridge.sync.worklogs.executor import ActionOutcome, WorklogSync
from jirabridge.sync.worklogs.planner import SyncPlan
from jirabridge.sync.worklogs.rounding import Rounding, zone

__all__ = [
    "ImportReport",
    "RecordInput",
    "RecordPatch",
    "WorklogService",
    "install_worklog_jobs",
    "record_dict",
    "record_suggestions",
    "suggest_issue_keys",
]

#: Jira's issue key rule: a project key (a capital letter, then capitals, digits or
#: underscores) and a number without leading zeros.
_KEY = re.compile(r"(?<![A-Za-z0-9_])([A-Z][A-Z0-9_]+)-([1-9][0-9]{0,9})(?![0-9])")
_MAX_IMPORT_ROWS = 5000


def suggest_issue_keys(text: str, project_keys: Sequence[str]) -> list[str]:
    """Issue keys in ``text`` whose project is one of ``project_keys``, first seen first."""
    allowed = set(project_keys)
    out: list[str] = []
    for match in _KEY.finditer(text or ""):
        key = f"{match[1]}-{match[2]}"
        if match[1] in allowed and key not in out:
            out.append(key)
    return out


def record_suggestions(record: dict[str, Any], project_keys: Sequence[str]) -> list[str]:
    """Issue keys suggested for ``record`` (a record dict): found in its notes and link."""
    text = f"{record.get('notes') or ''}\n{record.get('external_link') or ''}"
    return suggest_issue_keys(text, project_keys)


class RecordInput(BaseModel):
    """A new time record: ``started_at`` tz-aware, and ``ended_at`` or ``duration_seconds``.

    Forms may send ``started_local`` instead: a wall-clock time placed in ``time_zone``
    (the earlier instant when a DST change makes it ambiguous).
    """

    model_config = ConfigDict(extra="forbid")

    started_at: datetime = None  # type: ignore[assignment]  # filled from started_local
    started_local: datetime | None = Field(default=None, exclude=True)
    ended_at: datetime | None = None
    duration_seconds: int | None = Field(default=None, ge=0)
    time_zone: str = "UTC"
    notes: str = Field(default="", max_length=10_000)
    external_link: str | None = Field(default=None, max_length=2048)
    issue_key: str | None = Field(default=None, max_length=64)
    connection_id: str | None = None
    owner_team_id: str | None = None

    @model_validator(mode="after")
    def _check(self) -> RecordInput:
        if self.started_local is not None:
            if self.started_at is not None:
                raise ValueError("give started_at or started_local, not both")
            self.started_at = self.started_local.replace(tzinfo=zone(self.time_zone), fold=0)
        if self.started_at is None:
            raise ValueError("started_at is required")
        for name in ("started_at", "ended_at"):
            value = getattr(self, name)
            if value is not None and value.utcoffset() is None:
                raise ValueError(f"{name} must include a time zone offset")
        if (self.ended_at is None) == (self.duration_seconds is None):
            raise ValueError("give either ended_at or duration_seconds")
        if self.ended_at is not None and self.ended_at < self.started_at:
            raise ValueError("ended_at is before started_at")
        zone(self.time_zone)
        if self.issue_key is not None and not _KEY.fullmatch(self.issue_key):
            raise ValueError(f"{self.issue_key!r} is not an issue key (like PRJ-12)")
        return self

    def raw_seconds(self) -> float:
        """The unrounded duration."""
        if self.ended_at is not None:
            return (self.ended_at - self.started_at).total_seconds()
        return float(self.duration_seconds or 0)


class RecordPatch(BaseModel):
    """Changes to a record; only the fields given change (``issue_key: null`` unlinks)."""

    model_config = ConfigDict(extra="forbid")

    started_at: datetime | None = None
    ended_at: datetime | None = None
    duration_seconds: int | None = Field(default=None, ge=0)
    time_zone: str | None = None
    notes: str | None = Field(default=None, max_length=10_000)
    external_link: str | None = Field(default=None, max_length=2048)
    issue_key: str | None = Field(default=None, max_length=64)
    connection_id: str | None = None


@dataclass
class ImportReport:
    """The outcome of an import: created ids and one error per refused row (1-based)."""

    created: list[str] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"created": len(self.created), "ids": self.created, "errors": self.errors}


def record_dict(row: TimeRecordRow) -> dict[str, Any]:
    """The API form of a record."""
    return {
        "id": row.id,
        "started_at": row.started_at.isoformat(),
        "ended_at": row.ended_at.isoformat() if row.ended_at else None,
        "duration_seconds": row.duration_seconds,
        "time_zone": row.time_zone,
        "notes": row.notes,
        "external_link": row.external_link,
        "issue_key": row.issue_key,
        "connection_id": row.connection_id,
        "owner_user_id": row.owner_user_id,
        "owner_team_id": row.owner_team_id,
        "worklog_id": row.worklog_id,
        "sync_state": row.sync_state,
        "last_error": row.last_error,
        "last_synced_at": row.last_synced_at.isoformat() if row.last_synced_at else None,
        "conflict": row.conflict,
        "deleted": row.deleted_at is not None,
    }


class WorklogService:
    """Time records and their sync, for one process."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clients: JiraClientFactory,
        *,
        jobs: JobEngine | None = None,
        rounding: Rounding | None = None,
        notify_users: bool = False,
    ) -> None:
        self._sessions = sessions
        #: The session factory (read by the web layer for run progress).
        self.sessions = sessions
        self._clients = clients
        self._jobs = jobs
        self.rounding = rounding or Rounding()
        self.notify_users = notify_users

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        sessions: async_sessionmaker[AsyncSession],
        clients: JiraClientFactory,
        *,
        jobs: JobEngine | None = None,
    ) -> WorklogService:
        """A service with the rounding and notification settings of ``settings``."""
        return cls(
            sessions,
            clients,
            jobs=jobs,
            rounding=Rounding(settings.worklog_rounding_seconds, settings.worklog_minimum_seconds),
            notify_users=settings.worklog_notify_users,
        )

    # -- records ----------------------------------------------------------------------------

    async def list_records(
        self, user_id: str, filters: RecordFilter, *, offset: int = 0, limit: int = 50
    ) -> tuple[list[dict[str, Any]], int]:
        """A page of the user's records and the total."""
        if not 1 <= limit <= 500 or offset < 0:
            raise ValidationError("limit must be 1..500 and offset 0 or more")
        async with read_transaction(self._sessions) as session:
            rows, total = await TimeRecordRepository(session, user_id).list(
                filters, offset=offset, limit=limit
            )
            return [record_dict(r) for r in rows], total

    async def suggestions(
        self, user_id: str, records: Sequence[dict[str, Any]]
    ) -> dict[str, list[str]]:
        """Suggested issue keys of each unlinked record (by id), found in its notes and link.

        Keys are limited to the projects of the record's connection, asked once per
        connection; a connection that cannot answer suggests nothing (the page still renders).
        """
        by_connection: dict[str | None, list[dict[str, Any]]] = {}
        for record in records:
            if not record.get("issue_key"):
                by_connection.setdefault(record.get("connection_id"), []).append(record)
        found: dict[str, list[str]] = {}
        for connection_id, group in by_connection.items():
            try:
                async with self.jira(user_id, connection_id) as jira:
                    projects = [p.key for p in await jira.projects() if p.key]
            except JirabridgeError:
                continue
            for record in group:
                keys = record_suggestions(record, projects)
                if keys:
                    found[record["id"]] = keys
        return found

    async def get_record(self, user_id: str, record_id: str) -> dict[str, Any]:
        """One of the user's records."""
        async with read_transaction(self._sessions) as session:
            return record_dict(await TimeRecordRepository(session, user_id).get(record_id))

    async def create_record(self, user_id: str, data: RecordInput) -> dict[str, Any]:
        """Add a record (duration rounded once, here)."""
        async with write_transaction(self._sessions) as session:
            row = await self._new_row(session, user_id, data)
            return record_dict(row)

    async def _new_row(
        self, session: AsyncSession, user_id: str, data: RecordInput
    ) -> TimeRecordRow:
        if data.connection_id is not None:
            await ConnectionRepository(session, user_id).get(data.connection_id)
        row = TimeRecordRow(
            owner_team_id=data.owner_team_id,
            connection_id=data.connection_id,
            started_at=data.started_at.replace(microsecond=0),
            ended_at=data.ended_at,
            time_zone=data.time_zone,
            duration_seconds=self.rounding.apply(data.raw_seconds()),
            notes=data.notes,
            external_link=data.external_link,
            issue_key=data.issue_key,
        )
        return await TimeRecordRepository(session, user_id).add(row)

    async def update_record(
        self, user_id: str, record_id: str, patch: RecordPatch
    ) -> dict[str, Any]:
        """Change a record; the next sync carries the change to Jira (an update in place)."""
        given = patch.model_dump(exclude_unset=True)
        async with write_transaction(self._sessions) as session:
            row = await TimeRecordRepository(session, user_id).get(record_id)
            merged = RecordInput(
                started_at=given.get("started_at", row.started_at),
                ended_at=given.get(
                    "ended_at", row.ended_at if "duration_seconds" not in given else None
                ),
                duration_seconds=(
                    given.get("duration_seconds")
                    if "duration_seconds" in given
                    else (None if given.get("ended_at", row.ended_at) else row.duration_seconds)
                ),
                time_zone=given.get("time_zone", row.time_zone),
                notes=given.get("notes", row.notes),
                external_link=given.get("external_link", row.external_link),
                issue_key=given.get("issue_key", row.issue_key),
                connection_id=given.get("connection_id", row.connection_id),
            )
            if merged.connection_id and merged.connection_id != row.connection_id:
                await ConnectionRepository(session, user_id).get(merged.connection_id)
            row.started_at = merged.started_at.replace(microsecond=0)
            row.ended_at = merged.ended_at
            row.time_zone = merged.time_zone
            row.duration_seconds = self.rounding.apply(merged.raw_seconds())
            row.notes = merged.notes
            row.external_link = merged.external_link
            row.issue_key = merged.issue_key
            row.connection_id = merged.connection_id
            if row.sync_state == SyncState.SYNCED.value:
                row.sync_state = SyncState.PENDING.value
            return record_dict(row)

    async def delete_record(self, user_id: str, record_id: str) -> dict[str, Any]:
        """Mark a record deleted; its worklog goes at the next sync, then the record."""
        async with write_transaction(self._sessions) as session:
            row = await TimeRecordRepository(session, user_id).get(record_id)
            row.deleted_at = utcnow()
            if row.worklog_id is not None:
                row.sync_state = SyncState.PENDING.value
            return record_dict(row)

    async def resolve_conflict(self, user_id: str, record_id: str, keep: str) -> dict[str, Any]:
        """Resolve a conflict by keeping ``"local"`` (Jira gets updated) or ``"jira"``."""
        from jirabridge.sync.worklogs.planner import content_fingerprint

        if keep not in ("local", "jira"):
            raise ValidationError("keep must be 'local' or 'jira'")
        async with write_transaction(self._sessions) as session:
            row = await TimeRecordRepository(session, user_id).get(record_id, include_deleted=True)
            if row.sync_state != SyncState.CONFLICT.value or row.conflict is None:
                raise ValidationError("this record has no conflict to resolve")
            theirs = row.conflict.get("jira")
            if keep == "jira":
                if theirs is None:
                    row.deleted_at = utcnow()
                    row.worklog_id = None
                else:
                    row.started_at = datetime.fromisoformat(theirs["started"])
                    row.duration_seconds = int(theirs["seconds"])
                    row.notes = str(theirs["comment"])
                    row.synced_fingerprint = content_fingerprint(
                        row.started_at, row.duration_seconds, row.notes
                    )
                row.sync_state = SyncState.SYNCED.value
            else:
                if theirs is None:
                    row.worklog_id = None  # recreate: the worklog is gone in Jira
                    row.synced_fingerprint = None
                else:
                    row.synced_fingerprint = content_fingerprint(
                        datetime.fromisoformat(theirs["started"]),
                        int(theirs["seconds"]),
                        str(theirs["comment"]),
                    )
                row.sync_state = SyncState.PENDING.value
            row.conflict = None
            row.last_error = None
            return record_dict(row)

    # -- import -----------------------------------------------------------------------------

    async def import_rows(self, user_id: str, rows: Sequence[dict[str, Any]]) -> ImportReport:
        """Add every valid row; each invalid row gets an error naming its number."""
        if len(rows) > _MAX_IMPORT_ROWS:
            raise ValidationError(f"at most {_MAX_IMPORT_ROWS} rows per import")
        report = ImportReport()
        for number, raw in enumerate(rows, start=1):
            try:
                data = RecordInput.model_validate(_normalise_import_row(raw))
            except PydanticError as exc:
                first = exc.errors()[0]
                where = ".".join(str(p) for p in first.get("loc", ()))
                report.errors.append(
                    {"row": number, "error": f"{where + ': ' if where else ''}{first['msg']}"}
                )
                continue
            except ValidationError as exc:
                report.errors.append({"row": number, "error": exc.message})
                continue
            try:
                async with write_transaction(self._sessions) as session:
                    row = await self._new_row(session, user_id, data)
                    report.created.append(row.id)
            except NotFoundError as exc:
                report.errors.append({"row": number, "error": exc.message})
        return report

    async def import_csv(self, user_id: str, text: str) -> ImportReport:
        """Import CSV with a header row (started_at, ended_at or duration_minutes/
        duration_seconds, time_zone, notes, issue_key, external_link, connection_id)."""
        reader = csv.DictReader(io.StringIO(text))
        if not reader.fieldnames or "started_at" not in reader.fieldnames:
            raise ValidationError("the CSV needs a header row with at least started_at")
        return await self.import_rows(user_id, list(reader))

    # -- Jira -------------------------------------------------------------------------------

    async def connection_for(self, user_id: str, connection_id: str | None) -> JiraConnectionRow:
        """The named visible connection, or the user's first one."""
        async with read_transaction(self._sessions) as session:
            repo = ConnectionRepository(session, user_id)
            if connection_id is not None:
                return await repo.get(connection_id)
            found = await repo.list()
        if not found:
            raise NotFoundError("no Jira connection: add one first")
        return found[0]

    @asynccontextmanager
    async def jira(self, user_id: str, connection_id: str | None) -> AsyncIterator[JiraClient]:
        """A client of a connection the user may use."""
        row = await self.connection_for(user_id, connection_id)
        client = await self._clients.for_connection(row)
        try:
            yield client
        finally:
            await client.aclose()

    @asynccontextmanager
    async def sync_for_connection(self, connection_id: str) -> AsyncIterator[WorklogSync]:
        """The :class:`WorklogSync` of a connection (workers: no user scoping here)."""
        async with read_transaction(self._sessions) as session:
            row = await get_connection_unscoped(session, connection_id)
        client = await self._clients.for_connection(row)
        if row.kind in (ConnectionKind.CLOUD_TOKEN, ConnectionKind.OAUTH):
            # Pace writes to Jira Cloud's documented per-issue and burst limits up front,
            # rather than only backing off after its 429s.
            client.http.governor.limits = GovernorLimits.jira_cloud()
        try:
            yield WorklogSync(
                self._sessions, client, site=connection_id, notify_users=self.notify_users
            )
        finally:
            await client.aclose()

    async def _owned_ids(
        self, user_id: str, record_ids: Sequence[str], *, include_deleted: bool = True
    ) -> dict[str, str | None]:
        async with read_transaction(self._sessions) as session:
            repo = TimeRecordRepository(session, user_id)
            out: dict[str, str | None] = {}
            for record_id in record_ids:
                row = await repo.get(record_id, include_deleted=include_deleted)
                out[row.id] = row.connection_id
            return out

    async def _pin_connection(self, record_ids: Sequence[str], connection_id: str) -> None:
        # Records synced through the default connection remember it: their worklogs live
        # there, and the pull-back schedule finds connections through their records.
        async with write_transaction(self._sessions) as session:
            await session.execute(
                update(TimeRecordRow)
                .where(
                    TimeRecordRow.id.in_(list(record_ids)), TimeRecordRow.connection_id.is_(None)
                )
                .values(connection_id=connection_id)
            )

    async def plan(
        self, user_id: str, record_ids: Sequence[str], connection_id: str | None = None
    ) -> SyncPlan:
        """The plan a sync of ``record_ids`` would carry out (the dry run)."""
        owned = await self._owned_ids(user_id, record_ids)
        row = await self.connection_for(user_id, connection_id or _single(owned.values()))
        async with self.sync_for_connection(row.id) as sync:
            return await sync.plan(list(owned))

    async def sync_one(self, user_id: str, record_id: str) -> ActionOutcome:
        """Sync one record now, in this request."""
        owned = await self._owned_ids(user_id, [record_id])
        row = await self.connection_for(user_id, owned[record_id])
        await self._pin_connection([record_id], row.id)
        async with self.sync_for_connection(row.id) as sync:
            sync_plan = await sync.plan([record_id])
            sync.actor_user_id = user_id
            return await sync.apply_action(sync_plan.actions[0])

    async def start_bulk(
        self, user_id: str, record_ids: Sequence[str], connection_id: str | None = None
    ) -> str:
        """Start a durable bulk run; its id."""
        if self._jobs is None:
            raise ValidationError("bulk sync needs the job engine")
        if not record_ids:
            raise ValidationError("select at least one record")
        owned = await self._owned_ids(user_id, record_ids)
        row = await self.connection_for(user_id, connection_id or _single(owned.values()))
        await self._pin_connection(list(owned), row.id)
        run_id, _ = await worklog_jobs.start_run(
            self._jobs,
            self._sessions,
            connection_id=row.id,
            record_ids=list(owned),
            owner_user_id=user_id,
            actor_user_id=user_id,
        )
        return run_id

    async def import_jira_worklogs(
        self, user_id: str, since: datetime, connection_id: str | None = None
    ) -> list[str]:
        """Make records of the user's own Jira worklogs (through their connection) since
        ``since``; the new record ids. Importing twice adds nothing."""
        if since.utcoffset() is None:
            raise ValidationError("since must include a time zone offset")
        row = await self.connection_for(user_id, connection_id)
        async with self.sync_for_connection(row.id) as sync:
            return await sync.import_own_worklogs(
                since, owner_user_id=user_id, connection_id=row.id
            )

    async def failed_record_ids(self, user_id: str) -> list[str]:
        """Ids of the user's records whose last sync failed."""
        async with read_transaction(self._sessions) as session:
            rows, _ = await TimeRecordRepository(session, user_id).list(
                RecordFilter(sync_state=SyncState.ERROR.value, include_deleted=True), limit=5000
            )
            return [r.id for r in rows]

    async def history(
        self,
        user_id: str,
        *,
        record_id: str | None = None,
        status: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[dict[str, Any]]:
        """Sync attempts on the user's records, newest first."""
        async with read_transaction(self._sessions) as session:
            attempts = await TimeRecordRepository(session, user_id).attempts(
                record_id=record_id, status=status, since=since, until=until
            )
        return [
            {
                "id": a.id,
                "record_id": a.record_id,
                "run_id": a.run_id,
                "action": a.action,
                "status": a.status,
                "error": a.error,
                "worklog_id": a.worklog_id,
                "actor_user_id": a.actor_user_id,
                "at": a.created_at.isoformat(),
            }
            for a in attempts
        ]


def _single(values: Any) -> str | None:
    distinct = {v for v in values if v}
    return distinct.pop() if len(distinct) == 1 else None


def _normalise_import_row(raw: dict[str, Any]) -> dict[str, Any]:
    """CSV/JSON import rows: empty cells are absent, minutes become seconds."""
    row = {k.strip(): v for k, v in raw.items() if k and v not in (None, "")}
    minutes = row.pop("duration_minutes", None)
    if minutes is not None and "duration_seconds" not in row:
        try:
            row["duration_seconds"] = round(float(minutes) * 60)
        except (TypeError, ValueError, OverflowError):
            raise ValidationError(f"duration_minutes {minutes!r} is not a number") from None
    hours = row.pop("duration_hours", None)
    if hours is not None and "duration_seconds" not in row:
        try:
            row["duration_seconds"] = round(float(hours) * 3600)
        except (TypeError, ValueError, OverflowError):
            raise ValidationError(f"duration_hours {hours!r} is not a number") from None
    return row


def install_worklog_jobs(
    sessions: async_sessionmaker[AsyncSession], make_service: Callable[[], WorklogService]
) -> None:
    """Give this process's worklog workflows their resources, built on first use.

    Call before the job engine launches, so that runs recovered at launch find them.
    """
    built: list[WorklogService] = []

    @asynccontextmanager
    async def provider(connection_id: str) -> AsyncIterator[WorklogSync]:
        if not built:
            built.append(make_service())
        async with built[0].sync_for_connection(connection_id) as sync:
            yield sync

    worklog_jobs.configure(sessions, provider)
