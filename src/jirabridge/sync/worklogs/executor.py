"""Carries out a worklog sync plan against Jira, exactly once, through the write ledger.

Every write follows the ledger's three moves (intent, sent, confirmed/failed). A create goes
out with our external id stamped as a worklog property; when its answer is lost, the HTTP
core's ``write_once`` looks for the stamp and adopts what it finds. If the process dies with
a write ``sent``, the next plan marks that record ``reconcile_first`` and the stamp is looked
up before anything is written again. A create Jira confirmed but the record never heard of is
adopted from the ledger. So a record makes exactly one worklog, whatever fails when.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from jirabridge.errors import (
    ApiError,
    ApiNotFoundError,
    JirabridgeError,
    StorageError,
    TransportError,
)
from jirabridge.jira import EXTERNAL_ID_PROPERTY, JiraClient
from jirabridge.jira.dates import from_epoch_ms
from jirabridge.jira.models import Worklog
from jirabridge.store.db import read_transaction, write_transaction
from jirabridge.store.ledger import LedgerKey, WriteLedger
from jirabridge.store.models import LedgerState, WriteOperation, utcnow
from jirabridge.store.worklog_models import SyncAttemptRow, SyncState, TimeRecordRow
from jirabridge.sync.worklogs.planner import (
    ActionKind,
    IssueFacts,
    LedgerFacts,
    PlannedAction,
    RecordSnapshot,
    RemoteWorklog,
    SyncPlan,
    content_fingerprint,
    plan_sync,
)

__all__ = [
    "LEDGER_KIND",
    "ActionOutcome",
    "SyncSummary",
    "WorklogSync",
    "adf_text",
    "jira_unavailable",
    "snapshot_of",
]

LEDGER_KIND = "worklog"
_DONE_CATEGORY = "done"


def jira_unavailable(exc: JirabridgeError) -> bool:
    """Whether ``exc`` says Jira (or the way to it) is down rather than this record wrong: no
    answer, the site's breaker open, or a 5xx that outlasted the client's retries."""
    return isinstance(exc, TransportError) or (isinstance(exc, ApiError) and exc.status >= 500)


def adf_text(comment: Any) -> str:
    """A worklog comment as plain text: v2 strings as they are, ADF paragraphs joined."""
    if comment is None:
        return ""
    if isinstance(comment, str):
        return comment
    if not isinstance(comment, Mapping):
        return str(comment)
    paragraphs: list[str] = []
    for block in comment.get("content") or []:
        parts = [
            str(node.get("text", ""))
            for node in (block.get("content") or [])
            if isinstance(node, Mapping)
        ]
        paragraphs.append("".join(parts))
    return "\n\n".join(paragraphs)


def snapshot_of(row: TimeRecordRow) -> RecordSnapshot:
    """The planner's view of a record row."""
    return RecordSnapshot(
        id=row.id,
        issue_key=row.issue_key,
        started_at=row.started_at,
        duration_seconds=row.duration_seconds,
        notes=row.notes,
        time_zone=row.time_zone,
        deleted=row.deleted_at is not None,
        worklog_id=row.worklog_id,
        synced_issue_key=row.synced_issue_key,
        synced_fingerprint=row.synced_fingerprint,
    )


def _remote_of(worklog: Worklog) -> RemoteWorklog | None:
    if worklog.id is None or worklog.started is None:
        return None
    return RemoteWorklog(
        id=str(worklog.id),
        started=worklog.started,
        seconds=worklog.time_spent_seconds or 0,
        comment=adf_text(worklog.comment),
    )


@dataclass(frozen=True, slots=True)
class ActionOutcome:
    """What carrying out one action did."""

    record_id: str
    kind: ActionKind
    ok: bool
    worklog_id: str | None = None
    error: str | None = None


@dataclass(slots=True)
class SyncSummary:
    """The result of a run: ``{total, succeeded, failed, errors[]}``."""

    total: int = 0
    succeeded: int = 0
    failed: int = 0
    errors: list[dict[str, str]] = field(default_factory=list)

    def add(self, outcome: ActionOutcome) -> None:
        """Count one outcome."""
        self.total += 1
        if outcome.ok:
            self.succeeded += 1
        else:
            self.failed += 1
            self.errors.append({"record_id": outcome.record_id, "error": outcome.error or ""})

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "total": self.total,
            "succeeded": self.succeeded,
            "failed": self.failed,
            "errors": list(self.errors),
        }


Progress = Callable[[ActionOutcome], Awaitable[None]]


class WorklogSync:
    """Plans and applies the sync of time records through one Jira connection.

    ``site`` scopes the write ledger (use the connection id). ``jira`` is the connection's
    client; in tests give it a fake clock, or its retries sleep for real.
    """

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        jira: JiraClient,
        *,
        site: str,
        notify_users: bool = False,
        actor_user_id: str | None = None,
        clock: Callable[[], datetime] = utcnow,
        defer_outages: bool = False,
    ) -> None:
        self._sessions = sessions
        #: Raise a Jira outage (:func:`jira_unavailable`) instead of failing the record: set by
        #: durable runs, which wait for Jira to come back and try again.
        self.defer_outages = defer_outages
        self._jira = jira
        self._site = site
        self._notify = notify_users
        #: Who asked for the sync (logged with each attempt).
        self.actor_user_id = actor_user_id
        self._clock = clock
        self.ledger = WriteLedger(sessions, clock=clock)

    def _key(self, record_id: str) -> LedgerKey:
        return LedgerKey(self._site, LEDGER_KIND, record_id)

    # -- planning ---------------------------------------------------------------------------

    async def load(self, record_ids: Sequence[str]) -> list[TimeRecordRow]:
        """The rows of ``record_ids`` (unscoped: callers check ownership first), in order."""
        async with read_transaction(self._sessions) as session:
            rows = (
                (
                    await session.execute(
                        select(TimeRecordRow).where(TimeRecordRow.id.in_(record_ids))
                    )
                )
                .scalars()
                .all()
            )
        by_id = {row.id: row for row in rows}
        return [by_id[i] for i in record_ids if i in by_id]

    async def plan(self, record_ids: Sequence[str]) -> SyncPlan:
        """Read both sides and the ledger, and plan the sync of ``record_ids``."""
        snapshots = [snapshot_of(row) for row in await self.load(record_ids)]
        ledger: dict[str, LedgerFacts] = {}
        for snap in snapshots:
            entry = await self.ledger.get(self._key(snap.id))
            if entry is not None:
                ledger[snap.id] = LedgerFacts(entry.state, entry.remote_id, entry.target)
        remote = await self._remote_worklogs(s.worklog_id for s in snapshots if s.worklog_id)
        wanted = {
            s.issue_key for s in snapshots if s.issue_key and not s.deleted and s.worklog_id is None
        }
        issues = {key: await self._issue_facts(key) for key in sorted(wanted)}
        return plan_sync(snapshots, remote=remote, issues=issues, ledger=ledger)

    async def _remote_worklogs(self, ids: Any) -> dict[str, RemoteWorklog]:
        wanted = sorted(set(ids))
        if not wanted:
            return {}
        out: dict[str, RemoteWorklog] = {}
        for worklog in await self._jira.worklogs_by_ids(wanted):
            remote = _remote_of(worklog)
            if remote is not None:
                out[remote.id] = remote
        return out

    async def _issue_facts(self, key: str) -> IssueFacts:
        try:
            issue = await self._jira.get_issue(key, fields=["status"])
        except ApiNotFoundError:
            return IssueFacts(key, exists=False)
        status = issue.fields.get("status") if isinstance(issue.fields, Mapping) else None
        category = (status or {}).get("statusCategory") or {}
        return IssueFacts(key, closed=category.get("key") == _DONE_CATEGORY)

    async def changed_in_jira(self, since: datetime) -> tuple[list[str], datetime]:
        """Ids of synced records whose worklog changed or went in Jira since ``since``.

        Reads ``/worklog/updated`` and ``/worklog/deleted`` and keeps the worklogs our records
        point at. Returns them with the cursor for the next pull (the newest change seen; Jira
        leaves out the last minute, so the cursor never runs ahead of it).
        """
        changed: set[str] = set()
        newest = since
        async for change in self._jira.worklogs_updated(since):
            changed.add(str(change.worklog_id))
            newest = max(newest, from_epoch_ms(change.updated_time))
        async for change in self._jira.worklogs_deleted(since):
            changed.add(str(change.worklog_id))
            newest = max(newest, from_epoch_ms(change.updated_time))
        if not changed:
            return [], newest
        async with read_transaction(self._sessions) as session:
            ids = (
                (
                    await session.execute(
                        select(TimeRecordRow.id)
                        .where(
                            TimeRecordRow.worklog_id.in_(sorted(changed)),
                            or_(
                                TimeRecordRow.connection_id == self._site,
                                TimeRecordRow.connection_id.is_(None),
                            ),
                        )
                        .order_by(TimeRecordRow.started_at)
                    )
                )
                .scalars()
                .all()
            )
        return list(ids), newest

    async def pull(
        self, since: datetime, *, run_id: str | None = None
    ) -> tuple[SyncSummary, datetime]:
        """Take changes made in Jira since ``since`` into the records (conflicts if both
        sides changed); the summary and the next cursor."""
        ids, cursor = await self.changed_in_jira(since)
        if not ids:
            return SyncSummary(), cursor
        return await self.apply(await self.plan(ids), run_id=run_id), cursor

    async def import_own_worklogs(
        self,
        since: datetime,
        *,
        owner_user_id: str | None,
        owner_team_id: str | None = None,
        connection_id: str | None = None,
    ) -> list[str]:
        """Make time records of the connection user's own worklogs changed since ``since``.

        Worklogs we wrote (stamped with our external id) and worklogs a record already points
        at are skipped, so importing twice adds nothing. The new records start in step
        (``synced``): they are Jira's worklogs, not new work to send.
        """
        me = (await self._jira.myself()).identity
        ids = [str(c.worklog_id) async for c in self._jira.worklogs_updated(since)]
        if not ids:
            return []
        async with read_transaction(self._sessions) as session:
            known = set(
                (
                    await session.execute(
                        select(TimeRecordRow.worklog_id).where(TimeRecordRow.worklog_id.in_(ids))
                    )
                )
                .scalars()
                .all()
            )
        keys: dict[str, str] = {}
        created: list[str] = []
        for worklog in await self._jira.worklogs_by_ids(ids, expand_properties=True):
            remote = _remote_of(worklog)
            if remote is None or remote.id in known or worklog.issue_id is None:
                continue
            if worklog.author is None or worklog.author.identity != me:
                continue
            if worklog.get_property(EXTERNAL_ID_PROPERTY) is not None:
                continue
            if worklog.issue_id not in keys:
                keys[worklog.issue_id] = (
                    await self._jira.get_issue(worklog.issue_id, fields=["status"])
                ).key
            async with write_transaction(self._sessions) as session:
                row = TimeRecordRow(
                    owner_user_id=None if owner_team_id else owner_user_id,
                    owner_team_id=owner_team_id,
                    connection_id=connection_id,
                    started_at=remote.started,
                    duration_seconds=remote.seconds,
                    notes=remote.comment,
                    issue_key=keys[worklog.issue_id],
                    worklog_id=remote.id,
                    synced_issue_key=keys[worklog.issue_id],
                    synced_fingerprint=remote.fingerprint,
                    sync_state=SyncState.SYNCED.value,
                    last_synced_at=self._clock(),
                )
                session.add(row)
                await session.flush()
                created.append(row.id)
        return created

    # -- applying ---------------------------------------------------------------------------

    async def apply(
        self, plan: SyncPlan, *, run_id: str | None = None, progress: Progress | None = None
    ) -> SyncSummary:
        """Carry out every action of ``plan`` in order; one record's failure stops no other."""
        summary = SyncSummary()
        for action in plan.actions:
            outcome = await self.apply_action(action, run_id=run_id)
            summary.add(outcome)
            if progress is not None:
                await progress(outcome)
        return summary

    async def sync(self, record_ids: Sequence[str], *, run_id: str | None = None) -> SyncSummary:
        """Plan and apply, one record at a time (each planned just before it is applied)."""
        summary = SyncSummary()
        for record_id in record_ids:
            plan = await self.plan([record_id])
            for action in plan.actions:
                summary.add(await self.apply_action(action, run_id=run_id))
        return summary

    async def apply_action(
        self, action: PlannedAction, *, run_id: str | None = None
    ) -> ActionOutcome:
        """Carry out one action and record the attempt."""
        handlers: dict[ActionKind, Callable[[PlannedAction], Awaitable[ActionOutcome]]] = {
            ActionKind.CREATE: self._create,
            ActionKind.UPDATE: self._update,
            ActionKind.ADOPT: self._update,
            ActionKind.DELETE: self._delete,
            ActionKind.PULL_UPDATE: self._pull_update,
            ActionKind.PULL_DELETE: self._pull_delete,
            ActionKind.CONFLICT: self._conflict,
            ActionKind.ERROR: self._error,
            ActionKind.NOOP: self._noop,
        }
        try:
            outcome = await handlers[action.kind](action)
        except StorageError:
            # Our own database is away (a restart, a failover): that says nothing about the
            # record, so it is not marked failed; the caller (a durable step) tries again and
            # the ledger tells the next attempt what already reached Jira.
            raise
        except JirabridgeError as exc:
            if self.defer_outages and jira_unavailable(exc):
                # Nothing is known about the record: the ledger says what reached Jira, and
                # the next attempt reconciles before writing.
                raise
            outcome = await self._failed(action, exc)
        await self._log(action, outcome, run_id)
        return outcome

    async def _create(self, action: PlannedAction) -> ActionOutcome:
        assert action.issue_key
        assert action.started
        assert action.seconds
        assert action.fingerprint
        key = self._key(action.record_id)
        await self._begin(key, WriteOperation.CREATE, action.fingerprint, action.issue_key)
        found: Worklog | None = None
        if action.reconcile_first:
            found = await self._jira.find_worklog(
                action.issue_key, external_id=action.record_id, started=action.started
            )
        if found is None:
            await self.ledger.mark_sent(key)
            found = await self._jira.add_worklog_once(
                action.issue_key,
                external_id=action.record_id,
                started=action.started,
                time_spent_seconds=action.seconds,
                comment=action.comment or None,
                notify_users=self._notify,
            )
        assert found.id is not None
        await self.ledger.confirm(key, str(found.id))
        await self._mark_synced(action, str(found.id))
        return ActionOutcome(action.record_id, action.kind, True, str(found.id))

    async def _update(self, action: PlannedAction) -> ActionOutcome:
        assert action.issue_key
        assert action.worklog_id
        assert action.started
        assert action.seconds
        assert action.fingerprint
        key = self._key(action.record_id)
        await self._begin(key, WriteOperation.UPDATE, action.fingerprint, action.issue_key)
        await self.ledger.mark_sent(key)
        # PUT is idempotent: sending it again after a lost answer is safe.
        await self._jira.update_worklog(
            action.issue_key,
            action.worklog_id,
            started=action.started,
            time_spent_seconds=action.seconds,
            comment=action.comment,
            notify_users=self._notify,
        )
        await self.ledger.confirm(key, action.worklog_id)
        await self._mark_synced(action, action.worklog_id)
        return ActionOutcome(action.record_id, action.kind, True, action.worklog_id)

    async def _delete(self, action: PlannedAction) -> ActionOutcome:
        key = self._key(action.record_id)
        worklog_id = action.worklog_id
        if worklog_id is None and action.issue_key:
            rows = await self.load([action.record_id])
            if rows:
                found = await self._jira.find_worklog(
                    action.issue_key,
                    external_id=action.record_id,
                    started=rows[0].started_at,
                )
                worklog_id = None if found is None or found.id is None else str(found.id)
        if worklog_id is not None and action.issue_key:
            await self._begin(key, WriteOperation.DELETE, "delete", action.issue_key)
            await self.ledger.mark_sent(key)
            # Already gone is the outcome we wanted.
            with contextlib.suppress(ApiNotFoundError):
                await self._jira.delete_worklog(
                    action.issue_key, worklog_id, notify_users=self._notify
                )
            await self.ledger.confirm(key, worklog_id)
        async with write_transaction(self._sessions) as session:
            row = await session.get(TimeRecordRow, action.record_id)
            if row is not None:
                row.worklog_id = None
                row.synced_issue_key = None
                row.synced_fingerprint = None
                row.conflict = None
                row.last_error = None
                row.last_synced_at = self._clock()
                row.sync_state = (
                    SyncState.SYNCED.value if row.deleted_at else SyncState.NOT_SYNCED.value
                )
        return ActionOutcome(action.record_id, action.kind, True, worklog_id)

    async def _pull_update(self, action: PlannedAction) -> ActionOutcome:
        theirs = action.remote
        assert theirs is not None
        async with write_transaction(self._sessions) as session:
            row = await session.get(TimeRecordRow, action.record_id)
            assert row is not None
            row.started_at = theirs.started
            row.duration_seconds = theirs.seconds
            row.notes = theirs.comment
            row.ended_at = None
            row.synced_fingerprint = theirs.fingerprint
            row.sync_state = SyncState.SYNCED.value
            row.last_error = None
            row.last_synced_at = self._clock()
        return ActionOutcome(action.record_id, action.kind, True, theirs.id)

    async def _pull_delete(self, action: PlannedAction) -> ActionOutcome:
        async with write_transaction(self._sessions) as session:
            row = await session.get(TimeRecordRow, action.record_id)
            assert row is not None
            row.deleted_at = self._clock()
            row.worklog_id = None
            row.synced_fingerprint = None
            row.sync_state = SyncState.SYNCED.value
            row.last_synced_at = self._clock()
        return ActionOutcome(action.record_id, action.kind, True, action.worklog_id)

    async def _conflict(self, action: PlannedAction) -> ActionOutcome:
        mine = {
            "started": action.started.isoformat() if action.started else None,
            "seconds": action.seconds,
            "comment": action.comment,
        }
        theirs = action.remote.as_dict() if action.remote else None
        async with write_transaction(self._sessions) as session:
            row = await session.get(TimeRecordRow, action.record_id)
            assert row is not None
            row.sync_state = SyncState.CONFLICT.value
            row.conflict = {"local": mine, "jira": theirs}
            row.last_error = action.reason
        return ActionOutcome(action.record_id, action.kind, False, action.worklog_id, action.reason)

    async def fail_unreachable(
        self, record_id: str, exc: JirabridgeError, *, run_id: str | None = None
    ) -> ActionOutcome:
        """Fail ``record_id`` because Jira stayed unreachable (a durable run waited it out and
        gave up); logged like any attempt, so "retry failed" picks it up later."""
        action = PlannedAction(
            record_id, ActionKind.ERROR, f"Jira could not be reached: {exc.message}"
        )
        outcome = await self._error(action)
        await self._log(action, outcome, run_id)
        return outcome

    async def _error(self, action: PlannedAction) -> ActionOutcome:
        await self._set_error(action.record_id, action.reason)
        return ActionOutcome(action.record_id, action.kind, False, None, action.reason)

    async def _noop(self, action: PlannedAction) -> ActionOutcome:
        async with write_transaction(self._sessions) as session:
            row = await session.get(TimeRecordRow, action.record_id)
            if row is not None and row.sync_state in (SyncState.PENDING, SyncState.ERROR):
                row.sync_state = (
                    SyncState.SYNCED.value if row.worklog_id else SyncState.NOT_SYNCED.value
                )
                row.last_error = None
        return ActionOutcome(action.record_id, action.kind, True, action.worklog_id)

    async def _failed(self, action: PlannedAction, exc: JirabridgeError) -> ActionOutcome:
        message = _explain(exc, action)
        definite = isinstance(exc, ApiError) and exc.status < 500
        if definite and action.writes_to_jira:
            entry = await self.ledger.get(self._key(action.record_id))
            if entry is not None and entry.state in (LedgerState.PLANNED, LedgerState.SENT):
                await self.ledger.mark_failed(self._key(action.record_id), message)
        await self._set_error(action.record_id, message)
        return ActionOutcome(action.record_id, action.kind, False, action.worklog_id, message)

    async def _begin(
        self, key: LedgerKey, operation: WriteOperation, fingerprint: str, target: str
    ) -> None:
        intent = await self.ledger.record_intent(
            key, fingerprint=fingerprint, operation=operation, target=target
        )
        if intent.created or intent.entry.state is LedgerState.SENT:
            # A sent entry is resent as is: the create reconciles first, PUT/DELETE repeat.
            return
        await self.ledger.replan(key, fingerprint=fingerprint, operation=operation, target=target)

    async def _mark_synced(self, action: PlannedAction, worklog_id: str) -> None:
        assert action.started is not None
        assert action.seconds is not None
        async with write_transaction(self._sessions) as session:
            row = await session.get(TimeRecordRow, action.record_id)
            assert row is not None
            row.worklog_id = worklog_id
            row.synced_issue_key = action.issue_key
            row.synced_fingerprint = content_fingerprint(
                action.started, action.seconds, action.comment
            )
            row.sync_state = SyncState.SYNCED.value
            row.conflict = None
            row.last_error = None
            row.last_synced_at = self._clock()

    async def _set_error(self, record_id: str, message: str) -> None:
        async with write_transaction(self._sessions) as session:
            row = await session.get(TimeRecordRow, record_id)
            if row is not None:
                row.sync_state = SyncState.ERROR.value
                row.last_error = message

    async def _log(self, action: PlannedAction, outcome: ActionOutcome, run_id: str | None) -> None:
        async with write_transaction(self._sessions) as session:
            row = await session.get(TimeRecordRow, action.record_id)
            session.add(
                SyncAttemptRow(
                    record_id=action.record_id,
                    owner_user_id=row.owner_user_id if row else None,
                    owner_team_id=row.owner_team_id if row else None,
                    run_id=run_id,
                    action=action.kind.value,
                    status="success" if outcome.ok else "failed",
                    error=outcome.error,
                    worklog_id=outcome.worklog_id,
                    actor_user_id=self.actor_user_id,
                    created_at=self._clock(),
                )
            )


def _explain(exc: JirabridgeError, action: PlannedAction) -> str:
    issue = action.issue_key or "the issue"
    if isinstance(exc, ApiError):
        if exc.status == 403:
            return f"no permission to log work on {issue}"
        if exc.status == 404:
            return f"issue {issue} (or its worklog) does not exist"
        if exc.status == 400:
            detail = "; ".join([*exc.error_messages, *exc.field_errors.values()])
            return f"Jira refused the worklog on {issue}: {detail or exc.message}"
        if exc.status >= 500:
            return f"Jira failed ({exc.status}); the outcome is checked before any retry"
    return f"{type(exc).__name__}: {exc.message}"
